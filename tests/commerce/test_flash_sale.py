"""Flash sales: exactly min(stock, buyers) orders, a definite answer for everyone, expiry returns stock.

The race tests run many buyers at once against the real database (SQLite, and PostgreSQL when configured).
``test_the_database_alone_never_oversells`` opens the gate for everyone, so only the conditional UPDATE
stands between the buyers and an oversell: a read-then-write implementation fails it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from knowcast.accounts.models import Role
from knowcast.commerce import counters, flash, orders
from knowcast.commerce.flash_gate import Claim, Outcome
from knowcast.commerce.models import Order
from knowcast.commerce.promotions import FlashSale
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.writer import Win, write_win
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from tests.commerce.conftest import Shop


async def _buyers(make_user: Any, n: int) -> list[Any]:
    return [await make_user(Role.VIEWER) for _ in range(n)]


async def test_many_buyers_get_exactly_the_stock_and_a_definite_answer(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    product = await shop.shelved(stock=100, price=9900)
    sale = await shop.sale(product["id"], stock=7, price=990)
    buyers = await _buyers(make_user, 40)
    responses = await asyncio.gather(
        *(b.client.post(f"/api/v1/flash-sales/{sale['id']}/attempts", json={}) for b in buyers)
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    outcomes = Counter(r.json()["outcome"] for r in responses)
    assert outcomes == {"won": 7, "sold_out": 33}
    won = [r.json()["order"] for r in responses if r.json()["outcome"] == "won"]
    assert all(o["state"] == "pending" and o["total"] == 990 and o["source"] == "flash" for o in won)
    async with ctx.db.session() as session:
        count = await session.scalar(select(func.count()).select_from(Order).where(Order.flash_sale_id == sale["id"]))
        row = await session.get(FlashSale, sale["id"])
        assert count == 7 and row is not None and row.stock_left == 0
    assert (await shop.host.client.get(f"/api/v1/flash-sales/{sale['id']}")).json()["stock_left"] == 0


async def test_limit_reached_and_a_replayed_attempt_gets_its_order_back(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=100)
    sale = await shop.sale(product["id"], stock=5)
    buyer = await make_user(Role.VIEWER)
    url = f"/api/v1/flash-sales/{sale['id']}/attempts"
    first = (await buyer.client.post(url, json={"idempotency_key": "tap-aaaaaaaa"})).json()
    assert first["outcome"] == "won"
    replay = (await buyer.client.post(url, json={"idempotency_key": "tap-aaaaaaaa"})).json()
    assert replay["outcome"] == "won" and replay["order"]["id"] == first["order"]["id"]
    assert (await buyer.client.post(url, json={"idempotency_key": "tap-bbbbbbbb"})).json()["outcome"] == "limit_reached"
    assert (await buyer.client.post(url, json={"quantity": 2})).json()["outcome"] == "limit_reached"


async def test_not_started_ended_and_bad_input(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=100)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sale = await shop.sale(product["id"], starts_at=later)
    buyer = await make_user(Role.VIEWER)
    url = f"/api/v1/flash-sales/{sale['id']}/attempts"
    early = await buyer.client.post(url, json={})
    assert (early.status_code, early.json()["error"]["code"]) == (409, "flash.not_started")
    for quantity in (0, -3, 10**12, "x"):
        assert (await buyer.client.post(url, json={"quantity": quantity})).status_code == 422
    assert (await buyer.client.post("/api/v1/flash-sales/999999/attempts", json={})).status_code == 404
    running = await shop.sale(product["id"])
    await shop.host.client.post(f"/api/v1/flash-sales/{running['id']}/stop")
    ended = await buyer.client.post(f"/api/v1/flash-sales/{running['id']}/attempts", json={})
    assert ended.json()["error"]["code"] == "flash.ended"


async def test_absurd_sale_settings_are_refused(shop: Shop) -> None:
    product = await shop.shelved(stock=3, price=1000)
    url = f"/api/v1/rooms/{shop.room_id}/flash-sales"
    for body in (
        {"product_id": product["id"], "price": -1, "stock": 1},
        {"product_id": product["id"], "price": 10**15, "stock": 1},
        {"product_id": product["id"], "price": 100, "stock": 0},
        {"product_id": product["id"], "price": 100, "stock": 1, "per_user_limit": 0},
    ):
        assert (await shop.host.client.post(url, json=body)).status_code == 422, body
    above = await shop.host.client.post(url, json={"product_id": product["id"], "price": 2000, "stock": 1})
    assert above.json()["error"]["code"] == "flash.price_above_normal"
    too_many = await shop.host.client.post(url, json={"product_id": product["id"], "price": 100, "stock": 4})
    assert too_many.json()["error"]["code"] == "flash.insufficient_stock"


async def test_an_unpaid_flash_order_expires_and_its_unit_goes_back_to_the_sale(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    product = await shop.shelved(stock=10)
    sale = await shop.sale(product["id"], stock=1)
    first, second = await _buyers(make_user, 2)
    url = f"/api/v1/flash-sales/{sale['id']}/attempts"
    won = (await first.client.post(url, json={})).json()
    assert (await second.client.post(url, json={})).json()["outcome"] == "sold_out"
    async with ctx.db.session() as session:
        order = await orders.get_order(session, won["order"]["id"])
        order.reserved_until = utcnow() - timedelta(seconds=1)
        await session.commit()
        assert await orders.expire_due(session, ctx) == 1
        row = await session.get(FlashSale, sale["id"])
        assert row is not None and row.stock_left == 1
    assert (await second.client.post(url, json={})).json()["outcome"] == "won"


async def test_the_database_alone_never_oversells(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    """Every buyer passes the gate; each writes its claim in its own transaction, all at once."""
    product = await shop.shelved(stock=100)
    sale = await shop.sale(product["id"], stock=5, per_user_limit=1)
    info = await flash.sale_info(ctx, sale["id"])
    buyers = await _buyers(make_user, 30)
    start = asyncio.Event()

    async def buy(user_id: int, n: int) -> Outcome:
        claim = Claim(f"race-{n}", flash.sale_key(info), user_id, 1, 1)
        await start.wait()
        async with ctx.db.session() as session:
            written = await session.run_sync(write_win, Win(claim, info, 60, None, None))
            await session.commit()
        return written.outcome

    tasks = [asyncio.create_task(buy(b.user.id, n)) for n, b in enumerate(buyers)]
    await asyncio.sleep(0)
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    won = [r for r in results if r is Outcome.WON]
    assert len(won) == 5
    assert all(r in (Outcome.WON, Outcome.SOLD_OUT) or isinstance(r, Exception) for r in results)
    async with ctx.db.session() as session:
        count = await session.scalar(select(func.count()).select_from(Order).where(Order.flash_sale_id == sale["id"]))
        row = await session.get(FlashSale, sale["id"])
        held = await counters.counts(session, counters.sale_scope(sale["id"]))
    assert count == 5 and row is not None and row.stock_left == 0 and sum(held.values()) == 5


async def test_one_user_racing_themself_gets_no_more_than_the_limit(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    product = await shop.shelved(stock=100)
    sale = await shop.sale(product["id"], stock=50, per_user_limit=2)
    buyer = await make_user(Role.VIEWER)
    url = f"/api/v1/flash-sales/{sale['id']}/attempts"
    responses = await asyncio.gather(*(buyer.client.post(url, json={}) for _ in range(20)))
    outcomes = Counter(r.json()["outcome"] for r in responses)
    assert outcomes == {"won": 2, "limit_reached": 18}
    info = await flash.sale_info(ctx, sale["id"])
    assert await ctx.runtime(CommerceRuntime).gate.stock_left(flash.sale_key(info)) == 48
