"""Coupons at checkout: the buyer's coupons for an order with their discounts, the best applied by default, the
ones that do not apply with a reason and a stable code; switching the coupon of a pending order re-prices it and
closes the checkout opened for the old amount; a second buy of the same product reuses the pending order; the
room's snapshot carries the viewer's own part (pending orders, owned products, held coupons) and nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from knowcast.accounts.models import Role
from knowcast.commerce.models import Payment
from knowcast.context import AppContext
from tests.commerce.conftest import Shop, checkout_path, pay, sandbox_action


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def _coupon(shop: Shop, **fields: Any) -> dict[str, Any]:
    body = {"code": "SAVE30", "kind": "fixed", "value": 3000, "ends_at": _later(days=1), **fields}
    response = await shop.host.client.post("/api/v1/coupons", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _claimed(shop: Shop, buyer: Any, **fields: Any) -> dict[str, Any]:
    """A coupon dropped in the room and claimed by ``buyer`` (what a viewer holds)."""
    coupon = await _coupon(shop, claim_required=True, **fields)
    drop = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/coupon-drops", json={"coupon_id": coupon["id"], "quantity": 10}
    )
    assert drop.status_code == 201, drop.text
    claim = await buyer.client.post(f"/api/v1/coupon-drops/{drop.json()['id']}/claim")
    assert claim.status_code == 200, claim.text
    return coupon


async def _buy(buyer: Any, shop: Shop, product_id: int, code: str | None = None) -> Any:
    body: dict[str, Any] = {"items": [{"product_id": product_id}], "room_id": shop.room_id}
    if code:
        body["coupon_code"] = code
    return await buyer.client.post("/api/v1/orders", json=body)


async def _quote(buyer: Any, shop: Shop, product_id: int) -> dict[str, Any]:
    body = {"items": [{"product_id": product_id}], "room_id": shop.room_id}
    response = await buyer.client.post("/api/v1/coupons/quote", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_best_coupon_first_and_the_others_with_a_reason(shop: Shop, make_user: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", title="理财课", price=9900)
    other = await shop.product(kind="course", title="另一门课", price=5000)
    await _claimed(shop, buyer, code="SAVE30", value=3000)
    await _claimed(shop, buyer, code="SAVE10", value=1000)
    await _claimed(shop, buyer, code="PCT50", kind="percent", value=50, min_spend=20000)
    await _claimed(shop, buyer, code="OTHER", value=2000, product_id=other["id"])
    await _coupon(shop, code="NOTMINE", value=5000, claim_required=True)  # never claimed: not listed

    quote = await _quote(buyer, shop, product["id"])
    assert quote["best_code"] == "SAVE30"
    assert quote["subtotal"] == 9900
    rows = [(c["coupon"]["code"], c["eligible"], c["discount"], c["reason_code"], c["best"]) for c in quote["choices"]]
    assert rows[:2] == [("SAVE30", True, 3000, None, True), ("SAVE10", True, 1000, None, False)]
    assert sorted(rows[2:]) == [
        ("OTHER", False, 0, "coupon.wrong_product", False),
        ("PCT50", False, 0, "coupon.min_spend", False),
    ]
    assert all(c["reason"] for c in quote["choices"] if not c["eligible"])

    # the room's buy passes the best code: ¥99 with ¥30 off is ¥69, and that is what the checkout charges
    order = (await _buy(buyer, shop, product["id"], quote["best_code"])).json()
    assert (order["subtotal"], order["discount"], order["total"]) == (9900, 3000, 6900)
    path = await checkout_path(buyer.client, order["id"])
    page = await buyer.client.get(path)
    assert "¥69.00" in page.text
    listed = (await buyer.client.get(f"/api/v1/orders/{order['id']}/coupons")).json()
    assert listed["selected_code"] == "SAVE30" and listed["best_code"] == "SAVE30"
    # the order's own coupon still counts as usable for it (its one use is the order's)
    assert [c["eligible"] for c in listed["choices"] if c["coupon"]["code"] == "SAVE30"] == [True]


async def test_the_30_off_coupon_is_what_the_buyer_pays(
    shop: Shop, make_user: Any, webhook_server: str, ctx: AppContext
) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", title="理财课", price=9900)
    await _claimed(shop, buyer, code="SAVE30", value=3000)
    order = (await _buy(buyer, shop, product["id"], "SAVE30")).json()
    paid = await pay(buyer.client, order["id"])
    assert paid["total"] == 6900
    async with ctx.db.session() as session:
        amounts = list(await session.scalars(select(Payment.amount).where(Payment.order_id == order["id"])))
    assert amounts == [6900]
    library = (await buyer.client.get("/api/v1/library")).json()
    assert [e["product"]["id"] for e in library] == [product["id"]]


async def test_switching_the_coupon_reprices_and_closes_the_old_checkout(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", title="理财课", price=9900)
    save30 = await _claimed(shop, buyer, code="SAVE30", value=3000, total_limit=1)
    await _claimed(shop, buyer, code="SAVE10", value=1000)
    order = (await _buy(buyer, shop, product["id"], "SAVE30")).json()
    old_path = await checkout_path(buyer.client, order["id"])

    switched = await buyer.client.put(f"/api/v1/orders/{order['id']}/coupon", json={"coupon_code": "save10"})
    assert switched.status_code == 200, switched.text
    assert (switched.json()["discount"], switched.json()["total"], switched.json()["coupon_id"]) == (
        1000,
        8900,
        (await _coupon_id(shop, "SAVE10")),
    )
    async with ctx.db.session() as session:
        rows = list(
            await session.execute(select(Payment.amount, Payment.closed_at).where(Payment.order_id == order["id"]))
        )
    assert [(amount, closed is not None) for amount, closed in rows] == [(6900, True)]
    # the old price's page can no longer be paid; the next checkout asks for the new amount
    refused = await sandbox_action(buyer.client, old_path, "pay")
    assert refused.status_code >= 400
    new_path = await checkout_path(buyer.client, order["id"])
    assert new_path != old_path
    assert "¥89.00" in (await buyer.client.get(new_path)).text
    # SAVE30's one use came back: another buyer may use it now
    coupons = (await shop.host.client.get("/api/v1/coupons")).json()
    assert [c["used"] for c in coupons if c["id"] == save30["id"]] == [0]

    removed = await buyer.client.put(f"/api/v1/orders/{order['id']}/coupon", json={"coupon_code": None})
    assert (removed.json()["discount"], removed.json()["total"], removed.json()["coupon_id"]) == (0, 9900, None)
    unknown = await buyer.client.put(f"/api/v1/orders/{order['id']}/coupon", json={"coupon_code": "NOPE"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "coupon.not_found")
    stranger = await make_user(Role.VIEWER)
    theirs = await stranger.client.put(f"/api/v1/orders/{order['id']}/coupon", json={"coupon_code": "SAVE10"})
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "order.not_found")


async def _coupon_id(shop: Shop, code: str) -> int:
    coupons = (await shop.host.client.get("/api/v1/coupons")).json()
    return next(int(c["id"]) for c in coupons if c["code"] == code)


async def test_a_paid_or_cancelled_order_keeps_its_price(shop: Shop, make_user: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", price=9900)
    await _claimed(shop, buyer, code="SAVE30", value=3000)
    order = (await _buy(buyer, shop, product["id"])).json()
    assert (await buyer.client.post(f"/api/v1/orders/{order['id']}/cancel")).status_code == 200
    late = await buyer.client.put(f"/api/v1/orders/{order['id']}/coupon", json={"coupon_code": "SAVE30"})
    assert (late.status_code, late.json()["error"]["code"]) == (409, "order.cancelled")


async def test_a_flash_price_takes_no_coupon(shop: Shop, make_user: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", price=9900)
    await _claimed(shop, buyer, code="SAVE30", value=3000)
    sale = await shop.sale(product["id"], price=990)
    won = await buyer.client.post(f"/api/v1/flash-sales/{sale['id']}/attempts", json={"quantity": 1})
    assert won.json()["outcome"] == "won", won.text
    order_id = won.json()["order"]["id"]
    listed = (await buyer.client.get(f"/api/v1/orders/{order_id}/coupons")).json()
    assert [(c["coupon"]["code"], c["reason_code"]) for c in listed["choices"]] == [("SAVE30", "coupon.not_with_flash")]
    assert listed["best_code"] is None
    refused = await buyer.client.put(f"/api/v1/orders/{order_id}/coupon", json={"coupon_code": "SAVE30"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "coupon.not_with_flash")


async def test_a_second_buy_reuses_the_pending_order(shop: Shop, make_user: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", title="理财课", price=9900, per_user_limit=1)
    await _claimed(shop, buyer, code="SAVE30", value=3000)
    first = (await _buy(buyer, shop, product["id"])).json()
    assert first["total"] == 9900
    second = await _buy(buyer, shop, product["id"], "SAVE30")
    assert second.status_code == 201, second.text
    assert second.json()["id"] == first["id"]
    assert second.json()["total"] == 6900  # the coupon the second buy named was applied to the reused order
    mine = (await buyer.client.get("/api/v1/orders")).json()
    assert [o["id"] for o in mine] == [first["id"]]
    # once it is cancelled, a buy makes a new order (the purchase limit was given back)
    await buyer.client.post(f"/api/v1/orders/{first['id']}/cancel")
    third = (await _buy(buyer, shop, product["id"])).json()
    assert third["id"] != first["id"] and third["state"] == "pending"


async def test_the_snapshot_carries_the_viewers_own_part_only(
    shop: Shop, make_user: Any, webhook_server: str, client: Any
) -> None:
    buyer = await make_user(Role.VIEWER)
    other = await make_user(Role.VIEWER)
    course = await shop.shelved(kind="course", title="理财课", price=9900)
    book = await shop.shelved(kind="file", title="电子书", price=1990)
    coupon = await _claimed(shop, buyer, code="SAVE30", value=3000)
    waiting = (await _buy(buyer, shop, course["id"])).json()
    bought = (await _buy(buyer, shop, book["id"])).json()
    await pay(buyer.client, bought["id"])

    snap = (await buyer.client.get(f"/api/v1/rooms/{shop.room_id}/commerce")).json()
    mine = snap["mine"]
    assert [(p["order_id"], p["product_id"], p["total"]) for p in mine["pending"]] == [
        (waiting["id"], course["id"], 9900)
    ]
    assert mine["pending"][0]["reserved_until"]
    assert mine["owned"] == [book["id"]]
    assert [c["id"] for c in mine["coupons"]] == [coupon["id"]]

    theirs = (await other.client.get(f"/api/v1/rooms/{shop.room_id}/commerce")).json()["mine"]
    assert theirs == {"pending": [], "owned": [], "coupons": []}
    assert "mine" not in (await client.get(f"/api/v1/rooms/{shop.room_id}/commerce")).json()
