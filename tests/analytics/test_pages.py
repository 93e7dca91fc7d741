"""The analytics pages render for the host (with data and without), refuse others, and the console carries the
live panel without ever exposing host figures on the viewer's page."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from tests.analytics.conftest import Stage
from tests.analytics.test_report import run_stream


async def test_every_analytics_page_renders_for_the_host(stage: Stage, client_factory: Any, make_user: Any) -> None:
    paths = [
        "/studio/analytics",
        "/studio/analytics/profiles",
        "/studio/analytics/forecasts",
        "/studio/analytics/experiments",
        f"/studio/rooms/{stage.room_id}/review",
        f"/studio/rooms/{stage.room_id}/channels",
        f"/studio/rooms/{stage.room_id}/channels?model=first",
        "/studio/analytics/forecasts?channel=douyin&budget=300&interaction=20&price=10",
    ]
    for path in paths:  # before any data: empty states, no 500
        response = await stage.host.client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
    await run_stream(stage, client_factory, make_user, viewers=3, buyers=1)
    for path in paths:
        response = await stage.host.client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        assert "<script>" not in response.text  # CSP: our own modules only
    review = (await stage.host.client.get(f"/studio/rooms/{stage.room_id}/review")).text
    assert 'data-metric="gmv">¥99.00<' in review and "理财课" in review and 'data-testid="markers"' in review


async def test_console_has_the_live_panel_and_the_room_page_has_no_host_figures(stage: Stage, client: Any) -> None:
    console = (await stage.host.client.get(f"/studio/rooms/{stage.room_id}")).text
    assert 'data-testid="analytics-live"' in console and "/static/dist/console-" in console
    room = (await client.get(f"/rooms/{stage.room_id}")).text
    assert "analytics-live" not in room and '/live"' not in room


async def test_forms_add_links_costs_segments_and_experiments(stage: Stage) -> None:
    c = stage.host.client
    ok = await c.post(
        f"/studio/rooms/{stage.room_id}/channels/links", data={"source": "WeChat Group", "medium": "group"}
    )
    assert ok.status_code == 303
    ok = await c.post(
        f"/studio/rooms/{stage.room_id}/channels/costs",
        data={"category": "ads", "channel": "douyin", "amount": "300.50"},
    )
    assert ok.status_code == 303
    bad = await c.post(
        f"/studio/rooms/{stage.room_id}/channels/costs", data={"category": "ads", "channel": "x", "amount": "lots"}
    )
    assert bad.status_code == 422 and "cost-form" in bad.text
    bad = await c.post(f"/studio/rooms/{stage.room_id}/channels/costs", data={"category": "ads", "amount": "1"})
    assert bad.status_code == 422
    page = (await c.get(f"/studio/rooms/{stage.room_id}/channels")).text
    assert "utm_source=wechat_group" in page and "¥300.50" in page
    links = (await c.get(f"/api/v1/analytics/rooms/{stage.room_id}/links")).json()
    qr = await c.get(links[0]["qr_url"])
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml" and b"<svg" in qr.content
    ok = await c.post("/studio/analytics/segments", data={"name": "核心", "rfm": "champions", "consented_only": "1"})
    assert ok.status_code == 303
    ok = await c.post(
        "/studio/analytics/experiments", data={"name": "价格", "subject": "price", "variants": "control, cheaper"}
    )
    assert ok.status_code == 303
    bad = await c.post("/studio/analytics/experiments", data={"name": "x", "subject": "price", "variants": "only"})
    assert bad.status_code == 422


async def test_the_experiment_form_plans_the_sample_and_the_page_waits_for_it(stage: Stage) -> None:
    """Issue #17 §2: a power calculator when the experiment is created; while it runs, the anytime-valid headline."""
    c = stage.host.client
    calc = await c.get("/studio/analytics/experiments", params={"baseline": "10", "effect": "20", "variants": "a, b"})
    assert calc.status_code == 200 and 'data-testid="sample-size"' in calc.text and "3,839" in calc.text
    bad = await c.get("/studio/analytics/experiments", params={"baseline": "lots", "effect": "20"})
    assert bad.status_code == 422
    made = await c.post(
        "/studio/analytics/experiments",
        data={"name": "价格", "subject": "price", "variants": "control, cheaper", "baseline": "10", "effect": "20"},
    )
    assert made.status_code == 303
    [experiment] = (await c.get("/api/v1/analytics/experiments")).json()
    assert experiment["plan"]["sample_size"] == 3839 and experiment["plan"]["baseline_rate"] == 0.1
    page = (await c.get("/studio/analytics/experiments")).text
    assert "还没有结论" in page and 'data-testid="experiment-progress"' in page and "p 值（固定样本" not in page


async def test_others_cannot_open_a_hosts_analytics(stage: Stage, make_user: Any, client: Any) -> None:
    viewer = await make_user(Role.VIEWER)
    other = await make_user(Role.HOST)
    for path in (f"/studio/rooms/{stage.room_id}/review", f"/studio/rooms/{stage.room_id}/channels"):
        assert (await client.get(path)).status_code == 303  # to sign in
        assert (await viewer.client.get(path)).status_code == 403
        assert (await other.client.get(path)).status_code in (403, 404)
    assert (await viewer.client.get("/studio/analytics")).status_code == 403
