"""The viewer's own part of a room's shop, looked up in a few batched queries: their pending orders (so the
pinned card and the flash banner say "去支付" with the hold time left, even after a reload), the products they
own ("已购买 · 去学习"), and the host's coupons they hold. Everything else in the room's snapshot is the same for
every viewer; this part never is, and is never sent to anyone else."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.catalog.kinds import ProductKind
from knowcast.commerce import coupon_choice, coupons, entitlements
from knowcast.commerce.models import Order, OrderItem
from knowcast.commerce.schemas import MyShop, PendingOrder
from knowcast.commerce.states import OrderState
from knowcast.db.types import utcnow

# what is bought once: owning it turns "buy" into "已购买 · 去学习" (a membership is renewed, a consultation
# booked again, a plain item bought again)
ONCE = frozenset({ProductKind.COURSE, ProductKind.FILE, ProductKind.REPLAY, ProductKind.TICKET})


async def pending_orders(session: AsyncSession, user_id: int, host_id: int | None = None) -> list[PendingOrder]:
    """The buyer's orders still waiting for payment within their hold, one entry per product in them."""
    query = (
        select(Order, OrderItem.product_id)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(Order.user_id == user_id, Order.state == OrderState.PENDING, Order.reserved_until > utcnow())
        .order_by(Order.id)
    )
    if host_id is not None:
        query = query.where(Order.host_id == host_id)
    return [
        PendingOrder(
            order_id=order.id,
            product_id=product_id,
            total=order.total,
            currency=order.currency,
            reserved_until=order.reserved_until,
            flash_sale_id=order.flash_sale_id,
        )
        for order, product_id in (await session.execute(query)).tuples()
    ]


async def my_shop(session: AsyncSession, user_id: int, host_id: int, products: dict[int, ProductKind]) -> MyShop:
    """``products``: the room's shelf (and sale) product ids with their kinds."""
    owned = await entitlements.owned_among(session, user_id, [pid for pid, kind in products.items() if kind in ONCE])
    now = utcnow()
    held = [
        coupons.coupon_out(coupon, claim.value)
        for coupon, claim in await coupon_choice.held(session, user_id, host_id)
        if coupon.ends_at > now
    ]
    return MyShop(pending=await pending_orders(session, user_id, host_id), owned=sorted(owned), coupons=held)
