"""An analytics failure never blocks a purchase or a chat message."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from knowcast.analytics import live as live_module
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.store import Batch, EventStore
from knowcast.context import AppContext
from tests.analytics.conftest import Browser
from tests.commerce.conftest import Shop, pay
from tests.realtime.harness import open_viewer, serve, token_of


class BrokenStore(EventStore):
    """The database behind analytics is gone: every write raises. (A stand-in: a real database cannot be made
    to fail only for analytics while commerce keeps working on the same file.)"""

    def __init__(self) -> None:
        self.attempts = 0

    async def write(self, batch: Batch, kinds: Any) -> None:
        self.attempts += 1
        raise OSError("disk on fire")


def break_everything(ctx: AppContext, monkeypatch: Any) -> BrokenStore:
    runtime = ctx.runtime(AnalyticsRuntime)
    store = BrokenStore()
    runtime.store = store

    def explode(self: Any, rec: Any) -> None:
        raise RuntimeError("live board exploded")

    monkeypatch.setattr(live_module.RoomBoard, "apply", explode)
    return store


async def test_a_purchase_succeeds_while_analytics_is_broken(
    shop: Shop,
    make_user: Any,
    webhook_server: str,
    ctx: AppContext,
    monkeypatch: Any,
) -> None:
    store = break_everything(ctx, monkeypatch)
    product = await shop.shelved(kind="item", stock=3, price=1990)
    buyer = await make_user(Role.VIEWER)
    assert (await Browser(buyer.client, shop.room_id).send("view_start"))["accepted"] == 1  # watched: attributed
    body = {"items": [{"product_id": product["id"], "quantity": 1}], "room_id": shop.room_id}
    created = await buyer.client.post("/api/v1/orders", json=body)
    assert created.status_code == 201, created.text
    paid = await pay(buyer.client, created.json()["id"])
    assert paid["state"] == "paid"
    runtime = ctx.runtime(AnalyticsRuntime)
    await runtime.settle()
    for _ in range(10):
        if runtime.dropped:
            break
        await runtime.flush()
    assert store.attempts >= 3 and runtime.failures >= 3
    assert runtime.dropped >= 1  # dropped after three tries, and counted


async def test_a_chat_message_goes_out_while_analytics_is_broken(
    app: Any, ctx: AppContext, make_user: Any, monkeypatch: Any
) -> None:
    host = await make_user(Role.HOST)
    room_id = (
        await host.client.post("/api/v1/rooms", json={"title": "直播间", "scheduled_at": "2030-01-01T10:00:00Z"})
    ).json()["id"]
    break_everything(ctx, monkeypatch)
    alice, bob = await make_user(Role.VIEWER), await make_user(Role.VIEWER)
    async for live in serve(app):
        a = await open_viewer(live, room_id, token_of(alice), join={})
        b = await open_viewer(live, room_id, token_of(bob), join={})
        await a.send({"type": "chat", "text": "还能聊天吗", "cid": "c1"})
        await b.chat_text("还能聊天吗")
        await a.close()
        await b.close()
        await ctx.runtime(AnalyticsRuntime).flush()
