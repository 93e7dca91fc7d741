"""A buy: the buyer's pending order for the same items is reused (a second tap on "buy", or "buy" again after a
reload, must not make a second order that holds more stock and hits the purchase limit); otherwise a new order.
The coupon the buy names is applied to a reused order when it may be; when it may not, the order keeps its own
and the checkout page lists why."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.commerce import coupon_choice, offers, orders
from knowcast.commerce.models import Order, OrderItem
from knowcast.commerce.schemas import OrderCreate
from knowcast.commerce.states import OrderState
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import KnowcastError

log = logging.getLogger(__name__)


def _shape(items: list[tuple[int, int, int | None]]) -> list[tuple[int, int, int | None]]:
    return sorted(items, key=lambda item: (item[0], item[1], item[2] or 0))


async def pending_like(session: AsyncSession, user_id: int, data: OrderCreate) -> Order | None:
    """The buyer's newest pending order, still within its hold, from the same room (its prices are that
    room's), with exactly these items."""
    wanted = _shape([(i.product_id, i.quantity, i.slot_id) for i in data.items])
    query = (
        select(Order, OrderItem.product_id, OrderItem.quantity, OrderItem.slot_id)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(Order.user_id == user_id, Order.state == OrderState.PENDING, Order.reserved_until > utcnow())
        .where(OrderItem.product_id.in_([i.product_id for i in data.items]))
        .where(Order.room_id.is_(None) if data.room_id is None else Order.room_id == data.room_id)
        .order_by(Order.id.desc())
    )
    found: dict[int, tuple[Order, list[tuple[int, int, int | None]]]] = {}
    for order, product_id, quantity, slot_id in (await session.execute(query)).tuples():
        found.setdefault(order.id, (order, []))[1].append((product_id, quantity, slot_id))
    for order, _ in found.values():
        items = [(i.product_id, i.quantity, i.slot_id) for i in await orders.items_of(session, order.id)]
        if _shape(items) == wanted:
            return order
    return None


async def buy(
    session: AsyncSession, ctx: AppContext, user: User, data: OrderCreate, visitor: offers.Visitor = offers.anonymous
) -> Order:
    if data.idempotency_key and (same := await orders.by_idempotency_key(session, user.id, data.idempotency_key)):
        return same
    reused = await pending_like(session, user.id, data)
    if reused is None:
        return await orders.create_order(session, ctx, user, data, visitor)
    if data.coupon_code:
        try:
            reused = await coupon_choice.change(session, ctx, user, reused, data.coupon_code)
        except KnowcastError as exc:  # the order keeps its coupon; the checkout page says why this one is not
            log.info("reused order keeps its coupon", extra={"order_id": reused.id, "code": exc.code})
    return reused
