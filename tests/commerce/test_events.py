"""The events commerce publishes for analytics and webhooks (docs/api.md, "Order events"): one order shape for
every path that makes or moves an order, coupon claims with their claimer, draw entries; and what of it reaches
the room (only the public "bought" line, never the buyer's price or variants)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.commerce import orders
from knowcast.context import AppContext
from tests.commerce.conftest import Shop

ORDER_KEYS = {
    "order_id",
    "user_id",
    "host_id",
    "room_id",
    "total",
    "currency",
    "state",
    "source",
    "items",
    "coupon_id",
    "flash_sale_id",
    "discount",
    "subtotal",
    "variants",
}


def _named(seen: list[Event], name: str) -> list[dict[str, Any]]:
    return [e.data for e in seen if e.name == name]


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def test_order_events_carry_items_amounts_coupon_and_sale(
    shop: Shop, make_user: Any, ctx: AppContext, seen: list[Event]
) -> None:
    product = await shop.shelved(price=5000, stock=20, kind="course", title="理财课")
    other = await shop.shelved(price=1000, stock=20, kind="file", title="表格")
    coupon = {"code": "FIVE", "kind": "fixed", "value": 500, "ends_at": _later(days=1)}
    coupon_id = (await shop.host.client.post("/api/v1/coupons", json=coupon)).json()["id"]
    buyer = await make_user(Role.VIEWER, name="小李")
    body = {
        "items": [{"product_id": product["id"], "quantity": 1}, {"product_id": other["id"], "quantity": 2}],
        "room_id": shop.room_id,
        "coupon_code": "five",
    }
    order = (await buyer.client.post("/api/v1/orders", json=body)).json()
    async with ctx.db.session() as session:
        await orders.mark_paid(session, ctx, await orders.get_order(session, order["id"]))
    await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")

    for name, state in (("order.created", "pending"), ("order.paid", "fulfilled"), ("order.refunded", "refunded")):
        (data,) = _named(seen, name)
        assert set(data) == ORDER_KEYS, name
        assert data["items"] == [
            {"product_id": product["id"], "quantity": 1, "unit_price": 5000},
            {"product_id": other["id"], "quantity": 2, "unit_price": 1000},
        ]
        assert (data["subtotal"], data["discount"], data["total"]) == (7000, 500, 6500)
        assert (data["coupon_id"], data["flash_sale_id"], data["variants"]) == (coupon_id, None, {})
        assert (data["order_id"], data["user_id"], data["host_id"]) == (order["id"], buyer.user.id, shop.host.user.id)
        assert (data["room_id"], data["currency"], data["state"], data["source"]) == (shop.room_id, "CNY", state, "buy")
    # the room hears only the public line, without the buyer's id, amounts or variants
    (announced,) = _named(seen, "order.announced")
    (envelope,) = [e for e in seen if e.name == "order.announced"]
    assert envelope.to_room and envelope.system
    assert announced == {
        "room_id": shop.room_id,
        "text": announced["text"],
        "message": "shop.system.bought",  # each viewer's page renders the line in their own language
        "params": {"name": "小李", "title": "理财课"},
        "order_id": order["id"],
    }
    assert "小李" in announced["text"] and "理财课" in announced["text"]
    assert not any(e.to_room for e in seen if e.name.startswith("order.") and e.name != "order.announced")


async def test_cancel_and_expire_publish_the_same_shape(
    shop: Shop, make_user: Any, ctx: AppContext, seen: list[Event]
) -> None:
    product = await shop.shelved(price=1990, stock=5)
    buyer = await make_user(Role.VIEWER)
    cancelled = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    await buyer.client.post(f"/api/v1/orders/{cancelled['id']}/cancel")
    expired = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    async with ctx.db.session() as session:
        order = await orders.get_order(session, expired["id"])
        order.reserved_until = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
        await orders.expire_due(session, ctx)
    for name, order_id in (("order.cancelled", cancelled["id"]), ("order.expired", expired["id"])):
        (data,) = _named(seen, name)
        assert set(data) == ORDER_KEYS and data["order_id"] == order_id and data["state"] == name.split(".")[1]
        assert data["items"] == [{"product_id": product["id"], "quantity": 1, "unit_price": 1990}]


async def test_a_flash_win_written_by_the_batch_writer_publishes_order_created(
    shop: Shop, make_user: Any, seen: list[Event]
) -> None:
    product = await shop.shelved(price=9900, stock=10)
    sale = await shop.sale(product["id"], stock=3, price=990)
    buyers = [await make_user(Role.VIEWER) for _ in range(4)]
    outcomes = [
        (await b.client.post(f"/api/v1/flash-sales/{sale['id']}/attempts", json={})).json()["outcome"] for b in buyers
    ]
    assert outcomes == ["won", "won", "won", "sold_out"]
    created = _named(seen, "order.created")
    assert len(created) == 3 and all(set(data) == ORDER_KEYS for data in created)
    assert {data["user_id"] for data in created} == {b.user.id for b in buyers[:3]}
    for data in created:
        assert data["items"] == [{"product_id": product["id"], "quantity": 1, "unit_price": 990}]
        assert (data["flash_sale_id"], data["source"], data["state"]) == (sale["id"], "flash", "pending")
        assert (data["subtotal"], data["discount"], data["total"], data["coupon_id"]) == (990, 0, 990, None)
        assert data["room_id"] == shop.room_id and data["host_id"] == shop.host.user.id


async def test_coupon_claims_name_the_claimer_but_the_room_hears_only_the_count(
    shop: Shop, make_user: Any, seen: list[Event]
) -> None:
    coupon = {"code": "DROP", "kind": "fixed", "value": 500, "ends_at": _later(days=1), "claim_required": True}
    coupon_id = (await shop.host.client.post("/api/v1/coupons", json=coupon)).json()["id"]
    drop = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/coupon-drops", json={"coupon_id": coupon_id, "quantity": 3}
    )
    viewer = await make_user(Role.VIEWER)
    assert (await viewer.client.post(f"/api/v1/coupon-drops/{drop.json()['id']}/claim")).status_code == 200
    (claimed,) = _named(seen, "coupon.claimed")
    assert claimed == {
        "room_id": shop.room_id,
        "drop_id": drop.json()["id"],
        "coupon_id": coupon_id,
        "user_id": viewer.user.id,
    }
    (left,) = _named(seen, "coupon.left")
    assert left == {"room_id": shop.room_id, "drop_id": drop.json()["id"], "left": 2}
    assert [e.to_room for e in seen if e.name in ("coupon.claimed", "coupon.left")] == [False, True]


async def test_entering_a_draw_publishes_draw_entered_by_either_path(
    shop: Shop, make_user: Any, ctx: AppContext, seen: list[Event]
) -> None:
    prize = await shop.product(kind="file", title="奖品", price=100)
    draw = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/draws",
        json={
            "title": "抽奖",
            "condition": "keyword",
            "keyword": "学习",
            "prize_product_id": prize["id"],
            "winners": 1,
        },
    )
    draw_id = draw.json()["id"]
    by_card, by_chat = await make_user(Role.VIEWER), await make_user(Role.VIEWER)
    assert (await by_card.client.post(f"/api/v1/draws/{draw_id}/entries", json={"keyword": "学习"})).status_code == 201
    await ctx.bus.publish(
        Event("chat.message", {"room_id": shop.room_id, "user_id": by_chat.user.id, "text": "我要学习"})
    )
    await by_card.client.post(f"/api/v1/draws/{draw_id}/entries", json={"keyword": "学习"})  # refused: no event
    assert _named(seen, "draw.entered") == [
        {"room_id": shop.room_id, "draw_id": draw_id, "user_id": by_card.user.id},
        {"room_id": shop.room_id, "draw_id": draw_id, "user_id": by_chat.user.id},
    ]
