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
    live = await stage.live()  # open, but a 0-second view is no viewer yet (docs/metrics.md: at least 1 s)
    assert (live["uv"], live["pv"], live["viewers_now"], live["peak"]) == (0, 1, 1, 1)
    await stage.watch(page)
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


async def test_each_event_carries_room_visitor_channel_device_and_variants(stage: Stage, make_user: Any) -> None:
    """Issue 6 §1: what the intake stores with a view, and that sharing, liking and asking are interactions."""
    from sqlalchemy import select

    from knowcast.analytics import models as m

    body = {"name": "卡片", "subject": "card", "variants": [{"key": "plain"}, {"key": "bold"}]}
    experiment = (await stage.host.client.post("/api/v1/analytics/experiments", json=body)).json()
    await stage.go_live()
    fan = await make_user(Role.VIEWER)
    fan.client.cookies.set("kc_consent", "analytics")
    page = Browser(fan.client, stage.room_id)  # an iPhone user agent
    await page.send("view_start", utm_source="Douyin", utm_medium="video", utm_campaign="s11")
    await stage.watch(page)
    await page.send("share", target="wechat_moments")
    await stage.publish("likes.tapped", user_id=fan.user.id, count=3)
    asked = await fan.client.post(f"/api/v1/rooms/{stage.room_id}/questions", json={"text": "有回放吗？"})
    assert asked.status_code == 201, asked.text
    live = await stage.live()
    assert (live["uv"], live["likes"], live["interaction_rate"]) == (1, 3, 1.0)
    await stage.flush()
    async with stage.ctx.db.session() as session:
        rows = list(await session.scalars(select(m.AnalyticsEvent).where(m.AnalyticsEvent.room_id == stage.room_id)))
        view = await session.get(m.AnalyticsView, page.view_id)
        visitor = await session.get(m.RoomVisitor, (stage.room_id, f"u:{fan.user.id}"))
    kinds = {row.kind: row for row in rows}
    assert {"view_start", "share", "like", "question"} <= set(kinds)
    start = kinds["view_start"]
    assert (start.visitor, start.channel, start.device) == (f"u:{fan.user.id}", "douyin", "mobile")
    assert start.variants is not None and set(start.variants) == {experiment["key"]}
    assert start.variants[experiment["key"]] in ("plain", "bold")
    assert kinds["share"].data == {"target": "wechat_moments"} and kinds["like"].quantity == 3
    assert {kinds[k].visitor for k in ("share", "like", "question")} == {f"u:{fan.user.id}"}
    assert view is not None and (view.medium, view.campaign) == ("video", "s11")
    assert visitor is not None and (visitor.interactions, visitor.variants) == (3, start.variants)


async def test_writes_are_batched_one_transaction_per_batch(stage: Stage) -> None:
    """The writer takes up to ``analytics_batch_size`` events per transaction: 5,000 events, batches of 2,000,
    three writes (a store that counts its calls around the real one)."""
    from knowcast.analytics.records import Record
    from knowcast.analytics.store import Batch, EventStore
    from knowcast.db.types import utcnow

    runtime = stage.runtime
    real = runtime.store
    sizes: list[int] = []

    class Counting(EventStore):
        async def write(self, batch: Batch, kinds: Any) -> None:
            sizes.append(len(batch.records))
            await real.write(batch, kinds)

    await stage.flush()
    runtime.store = Counting()
    runtime.settings.analytics_batch_size = 2000
    now = utcnow()
    for i in range(5000):
        runtime.offer(Record("like", stage.room_id, now, visitor=f"p:{i % 50}", quantity=1))
    await stage.flush()
    assert sizes == [2000, 2000, 1000]
    live = await stage.live()
    assert live["likes"] == 5000
