"""Browser intake: views, heartbeats, impressions, and forged events dropped and counted."""

from __future__ import annotations

import time
from typing import Any

from knowcast.accounts.models import Role
from tests.analytics.conftest import Browser, Stage


async def test_a_view_counts_as_one_viewer_and_one_view(stage: Stage, client_factory: Any) -> None:
    await stage.go_live()
    page = Browser(client_factory(), stage.room_id)
    assert (await page.send("view_start", utm_source="WeChat"))["accepted"] == 1
    live = await stage.live()
    assert (live["uv"], live["pv"], live["viewers_now"], live["peak"]) == (1, 1, 1, 1)
    assert live["channels"][0]["channel"] == "wechat"
    await stage.flush()


async def test_forged_events_are_dropped_counted_and_never_sales(
    stage: Stage, client_factory: Any, make_user: Any
) -> None:
    await stage.go_live()
    page = Browser(client_factory(), stage.room_id)
    await page.send("view_start")
    future = int((time.time() + 3600) * 1000)
    attempts = [
        {"kind": "order_paid", "amount": 999900, "product_id": 1},  # a "paid" event from a client
        {"kind": "paid", "amount": 100},
        {"kind": "order", "total": 100},
        {"kind": "heartbeat", "at": future},  # from the future
        {"kind": "heartbeat", "at": 1000},  # 1970
        {"kind": "click"},  # a click on no product
    ]
    for attempt in attempts:
        result = await page.send(**attempt)
        assert result["accepted"] == 0 and result["rejected"] == 1, (attempt, result)
    stranger = Browser(client_factory(), stage.room_id)
    assert (await stranger.send("heartbeat"))["reasons"] == {"sequence.no_view": 1}  # never started
    unknown = Browser(client_factory(), 999_999)
    assert (await unknown.send("view_start"))["reasons"] == {"room.unknown": 1}
    await page.send("view_end")
    assert (await page.send("heartbeat"))["reasons"] == {"sequence.after_end": 1}
    assert (await page.send("view_start"))["reasons"] == {"sequence.duplicate_start": 1}
    live = await stage.live()
    assert (live["gmv"], live["orders_paid"], live["buyers"], live["uv"]) == (0, 0, 0, 1)
    assert live["rejected_events"] == 9
    await stage.flush()
    owner = await make_user(Role.OWNER)
    counted = (await owner.client.get("/api/v1/analytics/rejections")).json()
    assert counted["total"] == 10  # the unknown room is counted under room 0
    reasons = {row["reason"]: row["count"] for row in counted["rows"]}
    assert reasons["kind.forbidden"] == 3 and reasons["time.future"] == 1 and reasons["room.unknown"] == 1
    metrics = (await stage.host.client.get("/metrics")).text
    assert 'knowcast_analytics_rejected_total{reason="kind.forbidden"} 3.0' in metrics
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    assert report["summary"]["gmv"] == 0 and report["summary"]["orders_paid"] == 0


async def test_heartbeats_faster_than_a_page_sends_are_refused(stage: Stage, client_factory: Any) -> None:
    page = Browser(client_factory(), stage.room_id)
    await page.send("view_start")
    assert (await page.send("heartbeat"))["reasons"] == {"sequence.too_fast": 1}
    stage.backdate(page, 15)
    assert (await page.send("heartbeat", watched_ms=3_600_000))["accepted"] == 1
    live = await stage.live()
    assert live["avg_watch_seconds"] <= 20  # a beat adds at most one interval, whatever the page claims


async def test_someone_elses_view_id_cannot_be_continued(stage: Stage, client_factory: Any) -> None:
    page = Browser(client_factory(), stage.room_id)
    await page.send("view_start")
    thief = Browser(client_factory(), stage.room_id, agent="curl/8.0", view_id=page.view_id)
    stage.backdate(page, 15)
    assert (await thief.send("heartbeat"))["reasons"] == {"sequence.foreign_view": 1}


async def test_bad_bodies_get_a_422_not_a_500(stage: Stage, client: Any) -> None:
    bodies: list[Any] = [
        {},
        {"events": []},
        {"events": [{"kind": "view_start"}]},
        {"events": [{"kind": "view_start", "room_id": -1, "view_id": "abcdefgh"}]},
        {"events": [{"kind": "view_start", "room_id": 2**70, "view_id": "abcdefgh"}]},
        {"events": [{"kind": "view_start", "room_id": 1, "view_id": "bad id!"}]},
        {"events": [{"kind": "x" * 100, "room_id": 1, "view_id": "abcdefgh"}]},
        {"events": [{"kind": "view_start", "room_id": 1, "view_id": "abcdefgh", "at": "yesterday"}]},
        {"events": [{"kind": "view_start", "room_id": 1, "view_id": "abcdefgh"}] * 51},
        {"events": "nope"},
        [1, 2, 3],
    ]
    for body in bodies:
        response = await client.post("/api/v1/analytics/events", json=body)
        assert response.status_code == 422, (body, response.text)
    raw = await client.post(
        "/api/v1/analytics/events", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert raw.status_code == 422
    no_csrf = await client.post("/api/v1/analytics/events", json={"events": []}, headers={"x-csrf-token": "forged"})
    assert no_csrf.status_code == 403
