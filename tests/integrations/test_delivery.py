"""Webhook delivery over real HTTP to a local receiver: signatures, retries with backoff, recovery, no duplicates,
and nothing for an action that was rolled back."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.integrations import queue, signing
from knowcast.integrations.dispatcher import WebhookDispatcher
from knowcast.integrations.models import DeliveryStatus
from knowcast.rooms import service as rooms
from knowcast.rooms.states import RoomState
from tests.commerce.conftest import Shop, pay, shop, webhook_server  # noqa: F401  # fixtures
from tests.integrations.conftest import ROOM, deliveries, eventually, new_endpoint
from tests.integrations.receiver import Receiver


async def go_live(host: Any) -> int:
    room = (await host.client.post("/api/v1/rooms", json=ROOM)).json()
    moved = await host.client.post(f"/api/v1/rooms/{room['id']}/transitions", json={"to": "live"})
    assert moved.status_code == 200, moved.text
    return int(room["id"])


def docs_verify() -> Callable[[str, str, bytes], bool]:
    """The receiver's check exactly as docs/integrations.md shows it: the first Python block, executed."""
    text = (Path(__file__).parents[2] / "docs" / "integrations.md").read_text(encoding="utf-8")
    snippet = text.split("### Verifying the signature", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify: Callable[[str, str, bytes], bool] = namespace["verify"]
    return verify


async def test_room_live_arrives_signed(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    endpoint = await new_endpoint(owner, receiver.url, "room.live", "room.ended")
    room_id = await go_live(host)
    await eventually(lambda: _count(receiver, 1), "room.live reaches the receiver")
    request = receiver.requests[0]
    assert request.path == "/hooks"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["knowcast-event"] == "room.live"
    assert docs_verify()(endpoint["secret"], request.headers["knowcast-signature"], request.body)
    assert not docs_verify()(endpoint["secret"], request.headers["knowcast-signature"], request.body + b" ")
    assert signing.verify(endpoint["secret"], request.headers["knowcast-signature"], request.body, int(time.time()))
    assert not signing.verify("whsec_wrong", request.headers["knowcast-signature"], request.body, int(time.time()))
    body = json.loads(request.body)
    assert body["type"] == "room.live" and body["id"] == request.headers["knowcast-event-id"]
    assert body["data"] == {"room_id": room_id, "host_id": host.user.id, "state": "live"}  # no internal hints
    await eventually(lambda: _status(ctx, DeliveryStatus.SUCCEEDED), "the delivery is marked succeeded")
    [row] = await deliveries(ctx)
    assert (row.attempts, row.last_status_code, row.response_snippet) == (1, 200, "answered 200")


async def _count(receiver: Receiver, n: int) -> bool:
    return len(receiver.requests) >= n


async def _status(ctx: AppContext, *statuses: DeliveryStatus) -> bool:
    rows = await deliveries(ctx)
    return bool(rows) and all(row.status in statuses for row in rows)


async def test_only_subscribed_events_are_sent(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    await new_endpoint(owner, receiver.url, "room.ended")
    room_id = await go_live(host)
    await host.client.post(f"/api/v1/rooms/{room_id}/transitions", json={"to": "ended"})
    await eventually(lambda: _status(ctx, DeliveryStatus.SUCCEEDED), "room.ended delivered")
    assert [r.headers["knowcast-event"] for r in receiver.requests] == ["room.ended"]


async def test_a_500_is_retried_until_a_200(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    await new_endpoint(owner, receiver.url, "room.live")
    receiver.answer(500, 500)
    await go_live(host)
    await eventually(lambda: _status(ctx, DeliveryStatus.SUCCEEDED), "delivered after two 500s")
    [row] = await deliveries(ctx)
    assert row.attempts == 3 and row.last_status_code == 200
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # every attempt sends the same bytes
    assert len({r.headers["knowcast-event-id"] for r in receiver.requests}) == 1


async def test_receiver_down_then_up(make_user: Any, ctx: AppContext) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    down = Receiver()  # its port is free: nothing listens yet
    await new_endpoint(owner, down.url, "room.live")
    await go_live(host)

    async def failed_once() -> bool:
        rows = await deliveries(ctx)
        return bool(rows) and rows[0].attempts >= 1

    await eventually(failed_once, "a first attempt fails")
    [row] = await deliveries(ctx)
    assert row.status is DeliveryStatus.PENDING and row.last_status_code is None
    assert row.last_error and "Connect" in row.last_error
    assert row.next_attempt_at is not None and row.last_attempt_at is not None
    assert row.next_attempt_at > row.last_attempt_at  # backed off, not hammered
    await down.start()
    try:
        await eventually(lambda: _status(ctx, DeliveryStatus.SUCCEEDED), "delivered once the receiver is up")
    finally:
        await down.stop()
    [row] = await deliveries(ctx)
    assert row.attempts >= 2 and len(down.requests) == 1


async def test_gives_up_after_max_attempts_then_redeliver_sends_once_more(
    make_user: Any, receiver: Receiver, ctx: AppContext
) -> None:
    ctx.settings.webhook_max_attempts = 3
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    await new_endpoint(owner, receiver.url, "room.live")
    receiver.default = 503
    await go_live(host)
    await eventually(lambda: _status(ctx, DeliveryStatus.FAILED), "marked failed")
    [row] = await deliveries(ctx)
    assert (row.attempts, row.next_attempt_at, row.last_status_code) == (3, None, 503)
    assert len(receiver.requests) == 3
    receiver.default = 200
    again = await owner.client.post(f"/api/v1/webhooks/deliveries/{row.id}/redeliver")
    assert again.status_code == 200 and again.json()["status"] == "pending"
    await eventually(lambda: _status(ctx, DeliveryStatus.SUCCEEDED), "redelivered")
    [row] = await deliveries(ctx)
    assert row.attempts == 4 and len(receiver.requests) == 4


async def test_no_duplicate_send_after_success(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    owner = await make_user(Role.OWNER)
    await new_endpoint(owner, receiver.url, "order.paid")
    dispatcher = ctx.runtime_or_none(WebhookDispatcher)
    assert dispatcher is not None
    paid = Event("order.paid", {"order_id": 7, "total": 1990, "currency": "CNY"})
    await ctx.bus.publish(paid)
    await ctx.bus.publish(paid)  # the same event seen twice is queued once
    await eventually(lambda: _status(ctx, DeliveryStatus.SUCCEEDED), "delivered")
    for _ in range(3):
        assert await dispatcher.run_once() == 0
    later = Event("order.paid", {"order_id": 8, "total": 990, "currency": "CNY"})
    await ctx.bus.publish(later)
    await eventually(lambda: _count(receiver, 2), "the later event arrives")
    ids = [r.headers["knowcast-event-id"] for r in receiver.requests]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert len(await deliveries(ctx)) == 2


async def test_a_rolled_back_action_sends_nothing(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    await new_endpoint(owner, receiver.url, "room.live", "room.ended")
    room = (await host.client.post("/api/v1/rooms", json=ROOM)).json()

    def refuse_commit(_session: object) -> None:
        raise RuntimeError("the database refused the commit")

    async with ctx.db.session() as session:
        room_row = await rooms.get_room(session, room["id"])
        event.listen(session.sync_session, "before_commit", refuse_commit)
        with pytest.raises(RuntimeError):
            await rooms.transition(session, ctx, room_row, RoomState.LIVE)
        await session.rollback()
    illegal = await host.client.post(f"/api/v1/rooms/{room['id']}/transitions", json={"to": "reconnecting"})
    assert illegal.status_code == 409
    assert await deliveries(ctx) == []
    await host.client.post(f"/api/v1/rooms/{room['id']}/transitions", json={"to": "ended"})  # a committed one
    await eventually(lambda: _count(receiver, 1), "the committed action's event arrives")
    assert [r.headers["knowcast-event"] for r in receiver.requests] == ["room.ended"]
    assert len(await deliveries(ctx)) == 1


async def test_orders_paid_and_refunded_reach_the_receiver(
    shop: Shop,  # noqa: F811
    webhook_server: str,  # noqa: F811
    make_user: Any,
    receiver: Receiver,
    ctx: AppContext,
) -> None:
    """End to end with commerce: a sandbox payment and a refund publish the events the owner subscribed to."""
    owner = await make_user(Role.OWNER)
    await new_endpoint(owner, receiver.url, "order.paid", "order.refunded")
    product = await shop.shelved(kind="item", stock=3, price=1990)
    buyer = await make_user(Role.VIEWER)
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    await pay(buyer.client, order["id"])
    refunded = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")
    assert refunded.status_code == 200, refunded.text
    await eventually(lambda: _count(receiver, 2), "order.paid and order.refunded arrive")
    bodies = {json.loads(r.body)["type"]: json.loads(r.body)["data"] for r in receiver.requests}
    assert set(bodies) == {"order.paid", "order.refunded"}
    assert bodies["order.paid"]["order_id"] == order["id"] and bodies["order.paid"]["total"] == 1990
    assert bodies["order.refunded"]["currency"] == "CNY"


async def test_a_disabled_endpoint_gets_nothing_until_enabled(
    make_user: Any, receiver: Receiver, ctx: AppContext
) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    endpoint = await new_endpoint(owner, receiver.url, "room.live")
    await owner.client.patch(f"/api/v1/webhooks/{endpoint['id']}", json={"is_active": False})
    await go_live(host)
    assert await deliveries(ctx) == []
    await owner.client.patch(f"/api/v1/webhooks/{endpoint['id']}", json={"is_active": True})
    live_again = await go_live(host)
    await eventually(lambda: _count(receiver, 1), "events after re-enabling arrive")
    assert [json.loads(r.body)["data"]["room_id"] for r in receiver.requests] == [live_again]


def test_backoff_doubles_with_jitter_and_is_capped(settings: Any) -> None:
    s = settings.model_copy(update={"webhook_backoff_seconds": 10.0, "webhook_backoff_max_seconds": 300.0})
    rand = random.Random(7)
    for attempt, ceiling in ((1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (20, 300), (5000, 300)):
        delays = [queue.retry_delay(attempt, s, rand) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(set(delays)) > 1  # jittered


async def test_competing_dispatchers_send_each_delivery_once(
    make_user: Any, receiver: Receiver, ctx: AppContext
) -> None:
    """Four dispatchers over one database (as with four worker processes) race for the same due rows."""
    owner = await make_user(Role.OWNER)
    for _ in range(3):
        await new_endpoint(owner, receiver.url, "order.paid")
    rivals = [WebhookDispatcher(ctx) for _ in range(3)]
    for rival in rivals:
        await rival.start()
    try:
        for n in range(10):
            await ctx.bus.publish(Event("order.paid", {"order_id": n, "total": 100, "currency": "CNY"}))
        for rival in rivals:
            rival.wake()
        await eventually(lambda: _done(ctx, 30), "all thirty deliveries succeed")
    finally:
        for rival in rivals:
            await rival.stop()
    rows = await deliveries(ctx)
    assert len(rows) == 30 and {row.attempts for row in rows} == {1}
    sent = [(r.headers["knowcast-delivery"], r.headers["knowcast-event-id"]) for r in receiver.requests]
    assert len(sent) == 30 and len(set(sent)) == 30
    assert {int(d) for d, _ in sent} == {row.id for row in rows}


async def _done(ctx: AppContext, n: int) -> bool:
    rows = await deliveries(ctx)
    return len(rows) == n and all(row.status is DeliveryStatus.SUCCEEDED for row in rows)


async def test_a_receiver_that_hangs_times_out(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    ctx.settings.webhook_timeout_seconds = 0.3
    owner = await make_user(Role.OWNER)
    endpoint = await new_endpoint(owner, receiver.url, "room.live")
    receiver.delay = 3.0
    await owner.client.post(f"/api/v1/webhooks/{endpoint['id']}/ping")  # a ping is tried once
    await eventually(lambda: _status(ctx, DeliveryStatus.FAILED), "the slow attempt fails")
    [row] = await deliveries(ctx)
    assert row.last_error == "timed out" and row.last_status_code is None


async def test_old_finished_deliveries_are_purged_pending_ones_kept(make_user: Any, ctx: AppContext) -> None:
    owner = await make_user(Role.OWNER)
    endpoint = await new_endpoint(owner, "https://hooks.example.com/h", "order.paid")
    await owner.client.patch(f"/api/v1/webhooks/{endpoint['id']}", json={"is_active": False})  # nothing is sent
    old = utcnow() - timedelta(days=40)
    statuses = (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.SUCCEEDED)
    async with ctx.db.session() as session:
        for n, status in enumerate(statuses):
            row = queue.new_delivery(endpoint["id"], f"evt_{n}", "order.paid", "{}", 3)
            row.status, row.created_at = status, old if n < 3 else utcnow()
            session.add(row)
        await session.commit()
        assert await queue.purge(session, utcnow() - timedelta(days=30)) == 2
    assert [row.event_id for row in await deliveries(ctx)] == ["evt_2", "evt_3"]
