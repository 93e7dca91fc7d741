"""A flash-sale unit's life after the win: an unpaid order expires and its unit goes back to the sale (the row,
the gate and the viewers' live "N left"), a refund does the same while the sale is open, and once the sale
ends its unsold units — and any that come back later — return to the product's own stock.

Every test runs with the in-process gate and with the Redis gate (the app's scaled mode), on SQLite and on
PostgreSQL when configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.catalog.models import Product
from knowcast.commerce import flash, orders, sweeper
from knowcast.commerce.promotions import FlashSale
from knowcast.commerce.redis_gate import RedisGate
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.states import OrderState
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.settings import Settings
from tests.commerce.conftest import Shop
from tests.services import require_redis


@pytest.fixture(params=["memory", "redis"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "redis":
        settings.redis_url = require_redis()
    return settings


async def eventually(check: Callable[[], Any], what: str, attempts: int = 200) -> Any:
    for _ in range(attempts):
        if value := check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def _attempt(buyer: Any, sale_id: int) -> dict[str, Any]:
    response = await buyer.client.post(f"/api/v1/flash-sales/{sale_id}/attempts", json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _expire(ctx: AppContext, order_id: int) -> None:
    """Make the order's hold run out, then run one real sweeper pass."""
    async with ctx.db.session() as session:
        order = await orders.get_order(session, order_id)
        order.reserved_until = utcnow() - timedelta(seconds=1)
        await session.commit()
    await sweeper.sweep_once(ctx)


async def _rows(ctx: AppContext, sale_id: int, product_id: int) -> tuple[FlashSale, Product]:
    async with ctx.db.session() as session:
        sale, product = await session.get(FlashSale, sale_id), await session.get(Product, product_id)
    assert sale is not None and product is not None
    return sale, product


async def _gate_left(ctx: AppContext, sale_id: int) -> int | None:
    return await ctx.runtime(CommerceRuntime).gate.stock_left(flash.sale_key(await flash.sale_info(ctx, sale_id)))


async def test_an_expired_unpaid_order_gives_its_unit_to_the_next_buyer(
    shop: Shop, make_user: Any, ctx: AppContext, seen: list[Event], settings: Settings
) -> None:
    product = await shop.shelved(stock=10)
    sale = await shop.sale(product["id"], stock=1)
    first, second = [await make_user(Role.VIEWER) for _ in range(2)]
    won = await _attempt(first, sale["id"])
    assert won["outcome"] == "won"
    assert (await _attempt(second, sale["id"]))["outcome"] == "sold_out"
    await eventually(lambda: 0 in [e.data.get("stock_left") for e in seen if e.name == "flash.stock"], "0 left")
    assert isinstance(ctx.runtime(CommerceRuntime).gate, RedisGate) is (settings.redis_url is not None)

    await _expire(ctx, won["order"]["id"])
    assert (await first.client.get(f"/api/v1/orders/{won['order']['id']}")).json()["state"] == "expired"
    row, _ = await _rows(ctx, sale["id"], product["id"])
    assert row.stock_left == 1 and row.closed_at is None
    assert await _gate_left(ctx, sale["id"]) == 1
    # the viewers' live stock goes back up (the stock loop publishes it) and the public read agrees
    await eventually(lambda: [e for e in seen if e.name == "flash.stock" and e.data["stock_left"] == 1], "1 left")
    assert (await second.client.get(f"/api/v1/flash-sales/{sale['id']}")).json()["stock_left"] == 1
    expired = next(e for e in seen if e.name == "order.expired")
    assert expired.data["flash_sale_id"] == sale["id"] and not expired.to_room

    again = await _attempt(second, sale["id"])
    assert again["outcome"] == "won" and again["order"]["total"] == 990
    assert (await _attempt(first, sale["id"]))["outcome"] == "sold_out"  # their limit came back, the unit is gone
    await _expire(ctx, won["order"]["id"])  # sweeping again returns nothing twice
    row, _ = await _rows(ctx, sale["id"], product["id"])
    assert row.stock_left == 0 and await _gate_left(ctx, sale["id"]) == 0


async def test_a_refund_while_the_sale_runs_puts_the_unit_back_on_sale(
    shop: Shop, make_user: Any, ctx: AppContext, seen: list[Event]
) -> None:
    product = await shop.shelved(stock=10, kind="course", title="理财课")
    sale = await shop.sale(product["id"], stock=1)
    first, second = [await make_user(Role.VIEWER) for _ in range(2)]
    won = await _attempt(first, sale["id"])
    async with ctx.db.session() as session:
        assert await orders.mark_paid(session, ctx, await orders.get_order(session, won["order"]["id"]))
    assert (await _attempt(second, sale["id"]))["outcome"] == "sold_out"

    refunded = await shop.host.client.post(f"/api/v1/orders/{won['order']['id']}/refund")
    assert refunded.status_code == 200 and refunded.json()["state"] == "refunded"
    row, item = await _rows(ctx, sale["id"], product["id"])
    assert (row.stock_left, row.stock_returned, item.stock) == (1, 0, 9)
    assert await _gate_left(ctx, sale["id"]) == 1
    await eventually(lambda: [e for e in seen if e.name == "flash.stock" and e.data["stock_left"] == 1], "1 left")
    assert (await _attempt(second, sale["id"]))["outcome"] == "won"


async def test_an_ended_sale_returns_unsold_and_later_returned_units_to_the_product(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    product = await shop.shelved(stock=10, kind="course")
    sale = await shop.sale(product["id"], stock=3)
    unpaid, paid = [await make_user(Role.VIEWER) for _ in range(2)]
    pending = await _attempt(unpaid, sale["id"])
    bought = await _attempt(paid, sale["id"])
    async with ctx.db.session() as session:
        assert await orders.mark_paid(session, ctx, await orders.get_order(session, bought["order"]["id"]))
    assert (await _rows(ctx, sale["id"], product["id"]))[1].stock == 7  # the sale took its 3

    stopped = await shop.host.client.post(f"/api/v1/flash-sales/{sale['id']}/stop")
    assert stopped.json()["status"] == "ended" and stopped.json()["stock_returned"] == 1
    row, item = await _rows(ctx, sale["id"], product["id"])
    assert (row.stock_left, row.stock_returned, item.stock) == (0, 1, 8) and row.closed_at is not None
    async with ctx.db.session() as session:
        assert not await flash.close(session, ctx, sale["id"])  # closing twice moves nothing

    await _expire(ctx, pending["order"]["id"])  # after the end, an expired unit goes to the product
    row, item = await _rows(ctx, sale["id"], product["id"])
    assert (row.stock_left, row.stock_returned, item.stock) == (0, 2, 9)
    await shop.host.client.post(f"/api/v1/orders/{bought['order']['id']}/refund")  # and so does a refunded one
    row, item = await _rows(ctx, sale["id"], product["id"])
    assert (row.stock_left, row.stock_returned, item.stock) == (0, 3, 10)
    late = await unpaid.client.post(f"/api/v1/flash-sales/{sale['id']}/attempts", json={})
    assert late.json()["error"]["code"] == "flash.ended"


async def test_the_sweeper_closes_a_sale_whose_time_ran_out(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    limited = await shop.shelved(stock=5)
    unlimited = await shop.shelved(title="Unlimited")
    sales = [await shop.sale(limited["id"], stock=2), await shop.sale(unlimited["id"], stock=2)]
    async with ctx.db.session() as session:
        for sale in sales:
            row = await session.get(FlashSale, sale["id"])
            assert row is not None
            row.ends_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    await sweeper.sweep_once(ctx)
    row, product = await _rows(ctx, sales[0]["id"], limited["id"])
    assert (row.stock_left, row.stock_returned, product.stock) == (0, 2, 5)
    row, product = await _rows(ctx, sales[1]["id"], unlimited["id"])
    assert (row.stock_left, row.stock_returned, product.stock) == (0, 2, None) and row.closed_at is not None


async def test_units_coming_back_while_the_sale_closes_land_in_exactly_one_place(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    """Ten unpaid orders expire at the same moment the sale is closed: every unit ends up in the product's
    stock exactly once, whichever of the two got to the sale row first."""
    product = await shop.shelved(stock=30)
    sale = await shop.sale(product["id"], stock=20)
    buyers = [await make_user(Role.VIEWER) for _ in range(10)]
    won = [await _attempt(b, sale["id"]) for b in buyers]
    assert all(w["outcome"] == "won" for w in won)
    async with ctx.db.session() as session:
        row = await session.get(FlashSale, sale["id"])
        assert row is not None
        row.ends_at = utcnow()
        await session.commit()
    start = asyncio.Event()

    async def expire(order_id: int) -> None:
        await start.wait()
        async with ctx.db.session() as session:
            order = await orders.get_order(session, order_id)
            await orders.close_unpaid(session, ctx, order, OrderState.EXPIRED)

    async def close() -> None:
        await start.wait()
        async with ctx.db.session() as session:
            await flash.close(session, ctx, sale["id"])

    tasks = [asyncio.create_task(expire(w["order"]["id"])) for w in won[:5]]
    tasks.append(asyncio.create_task(close()))
    tasks += [asyncio.create_task(expire(w["order"]["id"])) for w in won[5:]]
    await asyncio.sleep(0)
    start.set()
    await asyncio.gather(*tasks)
    row, item = await _rows(ctx, sale["id"], product["id"])
    assert (row.stock_left, row.stock_returned, item.stock) == (0, 20, 30)
