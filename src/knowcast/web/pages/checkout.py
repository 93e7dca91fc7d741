"""The buyer's pages: the checkout of one order (/checkout/{id}: coupon, pay method by device, the hold time
left, a QR code on desktop that is polled until paid, then the result) and "我的订单 / My orders" (/orders)."""

from __future__ import annotations

import io
from datetime import datetime

import segno
from fastapi import Request
from fastapi.routing import APIRouter
from starlette.responses import RedirectResponse, Response

from knowcast.commerce import coupon_choice, orders, payments
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.models import Order
from knowcast.commerce.states import OWNED, OrderState, check_transition
from knowcast.db.types import utcnow
from knowcast.deps import Ctx, CurrentUser, Db, Id
from knowcast.errors import KnowcastError, NotFound, ValidationFailed
from knowcast.money import money
from knowcast.web.pages.forms import form_values
from knowcast.web.templating import pages_of as pages

router = APIRouter()
TABS = {"all": None, "pending": (OrderState.PENDING,), "paid": tuple(OWNED), "refunded": (OrderState.REFUNDED,)}


def seconds_left(order: Order, now: datetime) -> int:
    if order.state is not OrderState.PENDING or order.reserved_until is None:
        return 0
    return max(0, int((order.reserved_until - now).total_seconds()))


@router.get("/checkout/{order_id}")
async def checkout_page(request: Request, order_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    return await _render_checkout(request, ctx, db, user, order_id, None)


async def _render_checkout(
    request: Request, ctx: Ctx, db: Db, user: CurrentUser, order_id: int, error: KnowcastError | None
) -> Response:
    order = orders.own_order(user, await orders.get_order_for(db, user, order_id))
    await db.refresh(order)
    view = await orders.order_out(db, order)
    pending = order.state is OrderState.PENDING and seconds_left(order, utcnow()) > 0
    choices = await coupon_choice.for_order(db, user, order) if pending else None
    device = payments.device_of(request.headers.get("user-agent", ""))
    methods = [method.value for method, _ in payments.methods_for(ctx, device)] if pending else []
    return pages(request).render(
        request,
        "checkout.html",
        error.status_code if error else 200,
        order=view,
        pending=pending,
        seconds_left=seconds_left(order, utcnow()),
        choices=choices,
        methods=methods,
        device=device,
        error=error,
        money=money,
    )


@router.post("/checkout/{order_id}/coupon")
async def checkout_coupon(request: Request, order_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    """The coupon form without JavaScript: choose one (or none, or type a code), re-price, back to the page."""
    values = await form_values(request)
    code = (values.get("code") or values.get("coupon") or "").strip() or None
    try:
        if code is not None and len(code) > 32:
            raise ValidationFailed("no such coupon", code=CommerceCode.COUPON_NOT_FOUND)
        order = orders.own_order(user, await orders.get_order_for(db, user, order_id))
        await coupon_choice.change(db, ctx, user, order, code)
    except KnowcastError as error:
        return await _render_checkout(request, ctx, db, user, order_id, error)
    return RedirectResponse(f"/checkout/{order_id}", status_code=303)


@router.get("/checkout/{order_id}/qr.svg")
async def checkout_qr(order_id: Id, db: Db, user: CurrentUser) -> Response:
    """The pay code of the buyer's open checkout (WeChat Native's code_url) as an SVG drawn on the server."""
    order = orders.own_order(user, await orders.get_order_for(db, user, order_id))
    payment = await payments.latest_payment(db, order.id)
    if order.state is not OrderState.PENDING or payment is None or not payment.qr_code or payment.closed_at:
        raise NotFound("this order has no pay code to scan", code=CommerceCode.PAYMENT_NO_QR_CODE)
    # a whole SVG document (svg_inline leaves out the namespace, and an <img> then shows nothing)
    out = io.BytesIO()
    segno.make(payment.qr_code, error="m").save(out, kind="svg", scale=6, border=2, title=f"#{order.id}")
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"cache-control": "no-store"})


@router.get("/orders")
async def my_orders(request: Request, db: Db, user: CurrentUser, tab: str = "all") -> Response:
    """Every order of the buyer, newest first: pay (with the hold time left), cancel, and refund status."""
    states = TABS.get(tab)
    found = await orders.orders_of_user(db, user.id, limit=200)
    views = [await orders.order_out(db, o) for o in found if states is None or o.state in states]
    now = utcnow()
    left = {o.id: seconds_left(o, now) for o in found}
    return pages(request).render(
        request, "orders.html", orders=views, left=left, tab=tab if tab in TABS else "all", tabs=TABS, money=money
    )


@router.post("/orders/{order_id}/cancel")
async def cancel_order(request: Request, order_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    order = orders.own_order(user, await orders.get_order_for(db, user, order_id))
    check_transition(order.state, OrderState.CANCELLED)  # before close_unpaid, whose rollback would detach the user
    back = (await form_values(request)).get("next", "")
    if not await orders.close_unpaid(db, ctx, order, OrderState.CANCELLED):  # paid or expired meanwhile
        return RedirectResponse("/orders", status_code=303)
    return RedirectResponse(back if back.startswith("/checkout/") else "/orders", status_code=303)
