"""Order creation is rate limited per account (issue 7, point 6), with the helper sign-in and sign-up use.

The limiter's clock is swapped for one the test moves, so the window passing takes no real time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from knowcast.commerce.models import Order
from knowcast.context import AppContext
from knowcast.ratelimit import RateLimiter
from tests.commerce.conftest import Shop


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def orders_of(ctx: AppContext, user_id: int) -> int:
    async with ctx.db.session() as session:
        return int(await session.scalar(select(func.count()).where(Order.user_id == user_id)) or 0)


async def test_an_account_creating_orders_too_fast_gets_a_coded_429(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    assert ctx.limit.orders_account.limit == ctx.settings.orders_per_minute == 20  # the default
    clock = Clock()
    ctx.limit.orders_account = RateLimiter(3, 60, clock=clock)
    product = await shop.shelved(title="练习册")
    buyer, other = await make_user(), await make_user()
    body = {"items": [{"product_id": product["id"]}], "room_id": shop.room_id}
    for quantity in (1, 2, 3):  # different orders each time (the same one again would reuse the pending order)
        more = {"items": [{"product_id": product["id"], "quantity": quantity}], "room_id": shop.room_id}
        assert (await buyer.client.post("/api/v1/orders", json=more)).status_code == 201
    refused = await buyer.client.post("/api/v1/orders", json=body)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "order.rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert await orders_of(ctx, buyer.user.id) == 3  # the refused one made nothing
    assert (await other.client.post("/api/v1/orders", json=body)).status_code == 201  # per account
    clock.now += 61
    assert (await buyer.client.post("/api/v1/orders", json=body)).status_code == 201


async def test_refused_before_the_limit_counts_nothing_and_anonymous_is_401(
    shop: Shop, make_user: Any, ctx: AppContext, client: Any
) -> None:
    ctx.limit.orders_account = RateLimiter(1, 60, clock=Clock())
    product = await shop.shelved(title="练习册")
    buyer = await make_user()
    bad = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": 0}]})
    assert bad.status_code == 422  # invalid bodies are refused before the limiter sees them
    anonymous = await client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})
    assert anonymous.status_code == 401
    ok = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})
    assert ok.status_code == 201
