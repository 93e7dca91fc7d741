"""Where units go back: an order's when it stops holding them (cancelled, expired, refunded), and a flash
sale's unsold ones when the sale ends.

A flash-sale unit returns to its sale while the sale is open, so another buyer can win it (the row here, the
gates through a ``gate.release`` outbox message), and to the product's own stock once the sale is closed.
Closing is a conditional UPDATE of the sale row (``closed_at IS NULL``) and a returning unit's UPDATE carries
the same condition, so a unit coming back while the sweeper closes the sale lands in exactly one place.
An ordinary order's units return to the product's stock (products without a stock count have nothing to
return) and to the buyer's per-product limit; a draw prize never took stock. None of these commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.catalog import service as catalog
from knowcast.commerce import counters
from knowcast.commerce.models import Order, OrderItem, OutboxMessage
from knowcast.commerce.promotions import FlashSale
from knowcast.db.types import utcnow


async def give_back(session: AsyncSession, order: Order, items: Iterable[OrderItem]) -> None:
    for item in items:
        if order.source == "draw":
            continue
        if order.flash_sale_id is not None:
            await _to_sale(session, order, order.flash_sale_id, item)
        else:
            await catalog.put_back_stock(session, item.product_id, item.quantity)
            await counters.give_back(session, counters.product_scope(item.product_id), order.user_id, item.quantity)


async def _to_sale(session: AsyncSession, order: Order, sale_id: int, item: OrderItem) -> None:
    await counters.give_back(session, counters.sale_scope(sale_id), order.user_id, item.quantity)
    reopened = await session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale_id, FlashSale.closed_at.is_(None))
        .values(stock_left=FlashSale.stock_left + item.quantity)
        .execution_options(synchronize_session=False)
    )
    if reopened.rowcount:  # type: ignore[attr-defined]
        body = {"sale_id": sale_id, "user_id": order.user_id, "quantity": item.quantity, "token": f"order:{order.id}"}
        session.add(OutboxMessage(topic="gate.release", body=json.dumps(body)))
        return
    await session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale_id)
        .values(stock_returned=FlashSale.stock_returned + item.quantity)
        .execution_options(synchronize_session=False)
    )
    await catalog.put_back_stock(session, item.product_id, item.quantity)


async def close_sale(session: AsyncSession, sale_id: int) -> int | None:
    """Close an ended sale: its unsold units go back to the product. Returns how many, or None when it was
    already closed. The first UPDATE takes the row (PostgreSQL's row lock, SQLite's write lock), so the stock
    read after it cannot change before the commit."""
    taken = await session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale_id, FlashSale.closed_at.is_(None))
        .values(closed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        await session.rollback()
        return None
    query = select(FlashSale.stock_left, FlashSale.product_id).where(FlashSale.id == sale_id)
    left, product_id = (await session.execute(query)).tuples().one()
    await session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale_id)
        .values(stock_left=0, stock_returned=FlashSale.stock_returned + left)
        .execution_options(synchronize_session=False)
    )
    await catalog.put_back_stock(session, product_id, left)
    await session.commit()
    return left
