"""JSON API for the buyer's checkout: their coupons for what they are about to buy or for a pending order, and
switching the coupon of a pending order (which re-prices it). The checkout itself is routes.py's."""

from __future__ import annotations

from fastapi import APIRouter, Request

from knowcast.commerce import coupon_choice, offers, orders, pricing
from knowcast.commerce.schemas import CouponChoices, CouponQuoteIn, CouponSwitch, OrderCreate, OrderOut
from knowcast.deps import Ctx, CurrentUser, Db, Id

router = APIRouter(prefix="/api/v1", tags=["commerce"])


@router.post("/coupons/quote")
async def quote(request: Request, data: CouponQuoteIn, ctx: Ctx, db: Db, user: CurrentUser) -> CouponChoices:
    """The buyer's coupons for an order not made yet, priced as it would be (their variant of a price
    experiment in the room included); ``best_code`` is what the room's buy passes by default."""
    visitor = offers.visitor_of(request, ctx, user)
    priced = await pricing.price_order(db, ctx, user, OrderCreate(items=data.items, room_id=data.room_id), visitor)
    first = priced.lines[0].product
    basket = coupon_choice.Basket(first.host_id, first.currency, priced.amounts)
    return await coupon_choice.choices(db, user, basket)


@router.get("/orders/{order_id}/coupons")
async def order_coupons(order_id: Id, db: Db, user: CurrentUser) -> CouponChoices:
    order = await orders.get_order_for(db, user, order_id)
    return await coupon_choice.for_order(db, user, orders.own_order(user, order))


@router.put("/orders/{order_id}/coupon")
async def switch_coupon(order_id: Id, data: CouponSwitch, ctx: Ctx, db: Db, user: CurrentUser) -> OrderOut:
    """Use another coupon (or none) on a pending order: it is re-priced, and a checkout already open for the old
    amount is closed at the provider."""
    order = await orders.get_order_for(db, user, order_id)
    order = await coupon_choice.change(db, ctx, user, orders.own_order(user, order), data.coupon_code)
    return await orders.order_out(db, order)
