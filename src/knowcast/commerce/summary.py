"""Sales per room and per product for the studio (read-only): paid orders, buyers and takings, refunds netted
out. Counted from the orders themselves, so they hold without analytics installed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.commerce.models import Order, OrderItem
from knowcast.commerce.states import OrderState

SOLD = (OrderState.PAID, OrderState.FULFILLED)


@dataclass(frozen=True, slots=True)
class Sales:
    orders: int = 0
    buyers: int = 0
    gmv: int = 0  # minor units, paid and not refunded


async def by_room(session: AsyncSession, room_ids: list[int]) -> dict[int, Sales]:
    if not room_ids:
        return {}
    query = (
        select(Order.room_id, func.count(Order.id), func.count(func.distinct(Order.user_id)), func.sum(Order.total))
        .where(Order.room_id.in_(room_ids), Order.state.in_(SOLD))
        .group_by(Order.room_id)
    )
    return {int(r[0]): Sales(int(r[1]), int(r[2]), int(r[3] or 0)) for r in await session.execute(query)}


async def by_product(session: AsyncSession, host_id: int) -> dict[int, Sales]:
    query = (
        select(
            OrderItem.product_id,
            func.count(func.distinct(Order.id)),
            func.count(func.distinct(Order.user_id)),
            func.sum(OrderItem.unit_price * OrderItem.quantity),
        )
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.host_id == host_id, Order.state.in_(SOLD))
        .group_by(OrderItem.product_id)
    )
    return {int(r[0]): Sales(int(r[1]), int(r[2]), int(r[3] or 0)) for r in await session.execute(query)}


async def totals(session: AsyncSession, host_id: int) -> Sales:
    query = select(func.count(Order.id), func.count(func.distinct(Order.user_id)), func.sum(Order.total)).where(
        Order.host_id == host_id, Order.state.in_(SOLD)
    )
    row = (await session.execute(query)).one()
    return Sales(int(row[0]), int(row[1]), int(row[2] or 0))
