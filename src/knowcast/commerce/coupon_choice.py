"""Coupons at checkout: the buyer's coupons for one order, each with its discount or the reason it does not
apply (a stable code), the best one first and chosen by default (as Douyin and 小鹅通 do); and switching the
coupon of a pending order, which re-prices it.

A re-priced order's open provider checkout was made for the old amount: after the commit it is closed at the
provider (payments.close_stale_checkouts), so the buyer can never pay the old price.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.commerce import coupons, order_events, orders, payments
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.models import Order
from knowcast.commerce.promotions import Coupon, CouponClaim
from knowcast.commerce.schemas import CouponChoice, CouponChoices
from knowcast.commerce.states import OrderState
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, KnowcastError, NotFound

log = logging.getLogger(__name__)
NOT_WITH_FLASH = Conflict("a flash-sale price does not combine with coupons", code=CommerceCode.COUPON_NOT_WITH_FLASH)


@dataclass(frozen=True)
class Basket:
    """What a coupon looks at: minor units per product, the currency, the host, and whether it is a flash win."""

    host_id: int
    currency: str
    amounts: dict[int, int]
    flash: bool = False

    @property
    def subtotal(self) -> int:
        return sum(self.amounts.values())


async def basket_of(session: AsyncSession, order: Order) -> Basket:
    amounts: dict[int, int] = {}
    for item in await orders.items_of(session, order.id):
        amounts[item.product_id] = amounts.get(item.product_id, 0) + item.unit_price * item.quantity
    return Basket(order.host_id, order.currency, amounts, flash=order.flash_sale_id is not None)


async def held(session: AsyncSession, user_id: int, host_id: int) -> list[tuple[Coupon, CouponClaim]]:
    """The host's coupons this buyer has claimed (in a room, or won in a draw), newest claim first."""
    query = (
        select(Coupon, CouponClaim)
        .join(CouponClaim, CouponClaim.coupon_id == Coupon.id)
        .where(CouponClaim.user_id == user_id, Coupon.host_id == host_id)
        .order_by(CouponClaim.id.desc())
    )
    return [(coupon, claim) for coupon, claim in (await session.execute(query)).tuples()]


async def choices(session: AsyncSession, user: User, basket: Basket, current: Coupon | None = None) -> CouponChoices:
    """Every coupon the buyer holds for this host (and the order's own, typed as a code), priced against the
    basket; eligible ones first, biggest discount first (then the one that expires soonest)."""
    found: dict[int, tuple[Coupon, int | None]] = {
        c.id: (c, claim.value) for c, claim in await held(session, user.id, basket.host_id)
    }
    if current is not None and current.id not in found:
        claim = await coupons.claim_of(session, current.id, user.id)
        found[current.id] = (current, claim.value if claim else None)
    rows = []
    for coupon, value in found.values():
        own = 1 if current is not None and coupon.id == current.id else 0
        problem: KnowcastError | None = NOT_WITH_FLASH if basket.flash else None
        problem = problem or await coupons.why_not(session, user.id, coupon, basket.amounts, basket.currency, own)
        discount = 0 if problem else coupons.discount_for(coupon, basket.amounts, value)
        rows.append((coupon, value, discount, problem))
    rows.sort(key=lambda r: (r[3] is not None, -r[2], r[0].ends_at, r[0].id))
    best = rows[0][0] if rows and rows[0][3] is None and rows[0][2] > 0 else None
    out = [
        CouponChoice(
            coupon=coupons.coupon_out(coupon, value),
            discount=discount,
            eligible=problem is None,
            best=coupon is best,
            selected=current is not None and coupon.id == current.id,
            reason_code=problem.code if problem else None,
            reason=problem.message if problem else None,
        )
        for coupon, value, discount, problem in rows
    ]
    return CouponChoices(
        currency=basket.currency,
        subtotal=basket.subtotal,
        choices=out,
        best_code=best.code if best else None,
        selected_code=current.code if current else None,
    )


async def for_order(session: AsyncSession, user: User, order: Order) -> CouponChoices:
    current = await session.get(Coupon, order.coupon_id) if order.coupon_id else None
    return await choices(session, user, await basket_of(session, order), current)


# ---- switching the coupon of a pending order ----------------------------------------------------------------


def _check_payable(order: Order) -> None:
    if order.state is not OrderState.PENDING:
        raise Conflict(f"this order is {order.state.value}", code=CommerceCode(f"order.{order.state.value}"))
    if order.reserved_until is not None and order.reserved_until <= utcnow():
        raise Conflict("this order has expired", code=CommerceCode.ORDER_EXPIRED)


async def change(session: AsyncSession, ctx: AppContext, user: User, order: Order, code: str | None) -> Order:
    """Use ``code`` (None: no coupon) on the buyer's pending order: its discount and total are worked out again
    from the prices it was created with; the old coupon's use comes back, the new one's is counted — in one
    transaction, guarded by the order still being pending with the coupon the buyer saw."""
    if order.user_id != user.id:
        raise NotFound("no such order", code=CommerceCode.ORDER_NOT_FOUND)
    _check_payable(order)
    old = await session.get(Coupon, order.coupon_id) if order.coupon_id else None
    if (old.code if old else None) == (code.upper() if code else None):
        return order
    basket = await basket_of(session, order)
    new, discount, variants = None, 0, dict(order.variants or {})
    if code is not None:
        if basket.flash:
            raise NOT_WITH_FLASH
        new = await coupons.check(session, user, order.host_id, code, basket.amounts, basket.currency)
        claim = await coupons.claim_of(session, new.id, user.id)
        discount = coupons.discount_for(new, basket.amounts, claim.value if claim else None)
        if claim is not None and claim.experiment and claim.variant:
            variants[claim.experiment] = claim.variant
    await _reprice(session, order, old, new, discount, variants or None)
    await session.refresh(order)
    lines = order_events.lines_of(await orders.items_of(session, order.id))
    await ctx.bus.publish(order_events.order_event("order.repriced", order, lines))
    await _close_stale_checkout(session, ctx, order)
    return order


async def _close_stale_checkout(session: AsyncSession, ctx: AppContext, order: Order) -> None:
    """The open checkout asks for the old amount: close it at the provider now, so the old price can never be
    paid. Should the provider not answer, the next checkout closes it before making a new one."""
    payment = await payments.latest_payment(session, order.id)
    if payment is None or payment.state not in payments.OPEN or payment.closed_at or payment.amount == order.total:
        return
    try:
        await payments.close_payment(session, ctx, payment)
    except Exception:
        await session.rollback()
        log.warning("could not close a re-priced order's checkout", exc_info=True, extra={"order_id": order.id})


async def _reprice(
    session: AsyncSession,
    order: Order,
    old: Coupon | None,
    new: Coupon | None,
    discount: int,
    variants: dict[str, object] | None,
) -> None:
    guard = Order.coupon_id.is_(None) if old is None else Order.coupon_id == old.id
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.state == OrderState.PENDING, guard)
        .values(
            coupon_id=new.id if new else None,
            discount=discount,
            total=order.subtotal - discount,
            variants=variants,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        await session.rollback()
        raise Conflict("this order changed meanwhile; reload it", code=CommerceCode.ORDER_CHANGED)
    try:
        if old is not None:
            await coupons.unredeem(session, old.id, order.user_id)
        if new is not None and not await coupons.redeem(session, new, order.user_id):
            raise Conflict("this coupon has been used up", code=CommerceCode.COUPON_USED_UP)
        await session.commit()
    except Exception:
        await session.rollback()
        raise
