"""Bad input to the host's analytics API: a clear 4xx with a code, never a 500."""

from __future__ import annotations

from typing import Any

from tests.analytics.conftest import Stage


async def test_absurd_bodies_and_ids_are_refused_without_a_500(stage: Stage) -> None:
    c, room = stage.host.client, stage.room_id
    huge = 2**70
    calls: list[tuple[str, str, Any]] = [
        ("POST", f"/api/v1/analytics/rooms/{room}/costs", {"category": "ads", "channel": "x", "amount": -1}),
        ("POST", f"/api/v1/analytics/rooms/{room}/costs", {"category": "ads", "channel": "x", "amount": huge}),
        ("POST", f"/api/v1/analytics/rooms/{room}/costs", {"category": "bribes", "amount": 1}),
        ("POST", f"/api/v1/analytics/rooms/{room}/costs", {"category": "ads", "amount": 100}),
        ("POST", f"/api/v1/analytics/rooms/{room}/costs", {"category": "tools", "amount": 1, "currency": "yuan"}),
        ("POST", f"/api/v1/analytics/rooms/{room}/links", {"source": ""}),
        ("POST", f"/api/v1/analytics/rooms/{room}/links", {"source": "!!!"}),
        ("POST", f"/api/v1/analytics/rooms/{room}/links", {"source": "x" * 65}),
        ("POST", "/api/v1/analytics/plan", {"spend": {"douyin": huge}}),
        ("POST", "/api/v1/analytics/plan", {"spend": {"": 1}}),
        ("POST", "/api/v1/analytics/plan", {"interaction_rate": 7}),
        ("POST", "/api/v1/analytics/experiments", {"name": "x", "subject": "price", "variants": [{"key": "a"}]}),
        (
            "POST",
            "/api/v1/analytics/experiments",
            {"name": "x", "subject": "vibes", "variants": [{"key": "a"}, {"key": "b"}]},
        ),
        (
            "POST",
            "/api/v1/analytics/experiments",
            {"name": "x", "subject": "price", "variants": [{"key": "a"}, {"key": "a"}]},
        ),
        (
            "POST",
            "/api/v1/analytics/experiments",
            {"name": "x", "subject": "price", "variants": [{"key": "a b"}, {"key": "c"}]},
        ),
        ("POST", "/api/v1/analytics/segments", {"name": "", "rules": {}}),
        ("POST", "/api/v1/analytics/segments", {"name": "x", "rules": {"min_orders": -1}}),
        ("POST", "/api/v1/analytics/segments", {"name": "x", "rules": {"rfm": ["x" * 100]}}),
    ]
    for method, path, body in calls:
        response = await c.request(method, path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["error"]["code"], response.text
    for path in (
        f"/api/v1/analytics/rooms/{huge}/live",
        "/api/v1/analytics/rooms/0/report",
        "/api/v1/analytics/rooms/999999/report",
        "/api/v1/analytics/experiments/999999",
        "/api/v1/analytics/links/999999/qr.svg",
        "/api/v1/analytics/segments/999999/audience",
        f"/api/v1/analytics/rooms/{room}/report?model=middle",
        "/api/v1/analytics/profiles?segment=0",
    ):
        response = await c.get(path)
        assert response.status_code in (404, 422), (path, response.text)
    assert (await c.post("/api/v1/analytics/advice/999999/dismiss")).status_code == 404
    assert (await c.delete("/api/v1/analytics/costs/999999")).status_code == 404


async def test_a_host_cannot_touch_another_hosts_costs_segments_or_experiments(stage: Stage, make_user: Any) -> None:
    from knowcast.accounts.models import Role

    c = stage.host.client
    cost = (
        await c.post(f"/api/v1/analytics/rooms/{stage.room_id}/costs", json={"category": "tools", "amount": 100})
    ).json()
    segment = (await c.post("/api/v1/analytics/segments", json={"name": "mine", "rules": {}})).json()
    body = {"name": "x", "subject": "pitch", "variants": [{"key": "a"}, {"key": "b"}]}
    experiment = (await c.post("/api/v1/analytics/experiments", json=body)).json()
    other = (await make_user(Role.HOST)).client
    assert (await other.delete(f"/api/v1/analytics/costs/{cost['id']}")).status_code in (403, 404)
    assert (await other.delete(f"/api/v1/analytics/segments/{segment['id']}")).status_code == 404
    assert (await other.get(f"/api/v1/analytics/segments/{segment['id']}/audience")).status_code == 404
    assert (await other.get(f"/api/v1/analytics/experiments/{experiment['id']}")).status_code == 404
    assert (await other.post(f"/api/v1/analytics/experiments/{experiment['id']}/stop")).status_code == 404
    assert (await other.get(f"/api/v1/analytics/profiles?segment={segment['id']}")).status_code == 404
    assert (await c.delete(f"/api/v1/analytics/costs/{cost['id']}")).status_code == 204
