"""Coupons: shop-wide or per product, fixed or percent, minimum spend, window, total and per-user limits;
room drops with a claim window and a limited count."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.accounts.models import Role
from tests.commerce.conftest import Shop


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def _coupon(shop: Shop, **fields: Any) -> dict[str, Any]:
    body = {"code": "SAVE10", "kind": "fixed", "value": 1000, "ends_at": _later(days=1), **fields}
    response = await shop.host.client.post("/api/v1/coupons", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _order(buyer: Any, product_id: int, code: str, quantity: int = 1) -> Any:
    body = {"items": [{"product_id": product_id, "quantity": quantity}], "coupon_code": code}
    return await buyer.client.post("/api/v1/orders", json=body)


async def test_fixed_and_percent_discounts(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(price=5000, stock=20)
    await _coupon(shop, code="FIVE", kind="fixed", value=500)
    await _coupon(shop, code="PCT20", kind="percent", value=20, product_id=product["id"])
    buyer = await make_user(Role.VIEWER)
    fixed = (await _order(buyer, product["id"], "five")).json()
    assert (fixed["subtotal"], fixed["discount"], fixed["total"]) == (5000, 500, 4500)
    pct = (await _order(buyer, product["id"], "PCT20", quantity=2)).json()
    assert (pct["subtotal"], pct["discount"], pct["total"]) == (10000, 2000, 8000)


async def test_coupons_outside_their_limits_or_window(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(price=3000, stock=50)
    other = await shop.shelved(price=3000, stock=50, title="Other")
    await _coupon(shop, code="LATER", starts_at=_later(hours=1), ends_at=_later(hours=2))
    await _coupon(shop, code="MIN", min_spend=10000)
    await _coupon(shop, code="ONLY", product_id=other["id"])
    await _coupon(shop, code="ONCE", per_user_limit=1, total_limit=1)
    buyer, second = await make_user(Role.VIEWER), await make_user(Role.VIEWER)
    for code, expected in (
        ("LATER", "coupon.not_started"),
        ("MIN", "coupon.min_spend"),
        ("ONLY", "coupon.wrong_product"),
    ):
        response = await _order(buyer, product["id"], code)
        assert response.json()["error"]["code"] == expected, code
    assert (await _order(buyer, product["id"], "NOPE")).status_code == 404
    assert (await _order(buyer, product["id"], "ONCE")).status_code == 201
    # (the same buy again would get that pending order back: two of them is another order)
    assert (await _order(buyer, product["id"], "ONCE", quantity=2)).json()["error"]["code"] in (
        "coupon.limit_reached",
        "coupon.used_up",
    )
    assert (await _order(second, product["id"], "ONCE")).json()["error"]["code"] == "coupon.used_up"
    for bad in ({"value": -5}, {"kind": "percent", "value": 150}, {"code": "x"}, {"ends_at": "yesterday"}):
        response = await shop.host.client.post(
            "/api/v1/coupons", json={"code": "BAD1", "kind": "fixed", "value": 100, "ends_at": _later(days=1), **bad}
        )
        assert response.status_code == 422, bad


async def test_an_unpaid_order_gives_its_coupon_use_back(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(price=3000, stock=5)
    await _coupon(shop, code="ONE", total_limit=1)
    buyer = await make_user(Role.VIEWER)
    order = (await _order(buyer, product["id"], "ONE")).json()
    await buyer.client.post(f"/api/v1/orders/{order['id']}/cancel")
    assert (await _order(buyer, product["id"], "ONE")).status_code == 201


async def test_a_room_drop_is_first_come_first_served(shop: Shop, make_user: Any) -> None:
    coupon = await _coupon(shop, code="DROP", claim_required=True)
    drop = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/coupon-drops",
        json={"coupon_id": coupon["id"], "quantity": 3, "claim_seconds": 60},
    )
    assert drop.status_code == 201, drop.text
    buyers = [await make_user(Role.VIEWER) for _ in range(8)]
    claims = await asyncio.gather(*(b.client.post(f"/api/v1/coupon-drops/{drop.json()['id']}/claim") for b in buyers))
    assert Counter(r.status_code for r in claims) == {200: 3, 409: 5}
    winner = buyers[[r.status_code for r in claims].index(200)]
    again = await winner.client.post(f"/api/v1/coupon-drops/{drop.json()['id']}/claim")
    assert again.json()["error"]["code"] == "coupon.already_claimed"
    assert [c["code"] for c in (await winner.client.get("/api/v1/my/coupons")).json()] == ["DROP"]
    product = await shop.shelved(price=3000, stock=5)
    loser = buyers[[r.status_code for r in claims].index(409)]
    assert (await _order(loser, product["id"], "DROP")).json()["error"]["code"] == "coupon.not_claimed"
    assert (await _order(winner, product["id"], "DROP")).status_code == 201
