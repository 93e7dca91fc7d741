"""Payments: start a checkout with the configured provider, apply verified webhook events, refund.

Events are applied once (a receipt per provider event id) and only ever move a payment up its ranked states
(created < failed < succeeded < refunded), so a repeated event changes nothing and a late one (a "failed"
after a "succeeded") is ignored. A "refunded" that overtakes its "succeeded" still ends the order refunded.
Money that arrives for an order that has already expired or been cancelled is refunded at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.commerce import orders
from knowcast.commerce.models import Order, OutboxMessage, Payment, WebhookReceipt
from knowcast.commerce.providers import sandbox as sandbox_provider
from knowcast.commerce.providers.base import CheckoutRequest, EventKind, PaymentProvider, ProviderEvent
from knowcast.commerce.runtime import runtime
from knowcast.commerce.schemas import CheckoutOut
from knowcast.commerce.states import OWNED, RANK, OrderState, PaymentState
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound
from knowcast.privacy import audit

log = logging.getLogger(__name__)
STATE_FOR = {
    EventKind.SUCCEEDED: PaymentState.SUCCEEDED,
    EventKind.FAILED: PaymentState.FAILED,
    EventKind.REFUNDED: PaymentState.REFUNDED,
}


def return_url(ctx: AppContext, order: Order) -> str:
    base = ctx.settings.public_url.rstrip("/")
    return f"{base}/rooms/{order.room_id}?order={order.id}" if order.room_id else f"{base}/library?order={order.id}"


async def latest_payment(session: AsyncSession, order_id: int) -> Payment | None:
    query = select(Payment).where(Payment.order_id == order_id).order_by(Payment.id.desc()).limit(1)
    payment: Payment | None = await session.scalar(query)
    return payment


async def start_checkout(session: AsyncSession, ctx: AppContext, user: User, order: Order) -> CheckoutOut:
    """Where the buyer pays. A free order is paid on the spot; an open checkout is reused."""
    if order.user_id != user.id:
        raise NotFound("no such order", code="order.not_found")
    if order.state is not OrderState.PENDING:
        raise Conflict(f"this order is {order.state.value}", code=f"order.{order.state.value}")
    if order.reserved_until is not None and order.reserved_until <= utcnow():
        raise Conflict("this order has expired", code="order.expired")
    if order.total == 0:
        await orders.mark_paid(session, ctx, order)
        return CheckoutOut(order_id=order.id, checkout_url=return_url(ctx, order))
    payment = await latest_payment(session, order.id)
    if payment is not None and payment.state in (PaymentState.CREATED, PaymentState.FAILED):
        return CheckoutOut(order_id=order.id, checkout_url=payment.checkout_url)
    provider = runtime(ctx).provider
    items = await orders.items_of(session, order.id)
    title = items[0].title if len(items) == 1 else f"{items[0].title} +{len(items) - 1}"
    checkout = await provider.create_checkout(
        CheckoutRequest(order.id, order.total, order.currency, title, return_url(ctx, order))
    )
    session.add(
        Payment(
            order_id=order.id,
            provider=provider.name,
            reference=checkout.reference,
            amount=order.total,
            currency=order.currency,
            checkout_url=checkout.url,
        )
    )
    await session.commit()
    return CheckoutOut(order_id=order.id, checkout_url=checkout.url)


async def _payment_for(session: AsyncSession, provider: str, event: ProviderEvent) -> Payment | None:
    if event.reference:
        found = await session.scalar(
            select(Payment).where(Payment.provider == provider, Payment.reference == event.reference)
        )
        if found is not None:
            return found
    if event.order_id is not None:
        query = select(Payment).where(Payment.provider == provider, Payment.order_id == event.order_id)
        latest: Payment | None = await session.scalar(query.order_by(Payment.id.desc()).limit(1))
        return latest
    return None


async def apply_event(session: AsyncSession, ctx: AppContext, provider: PaymentProvider, event: ProviderEvent) -> str:
    """Apply one verified provider event; returns what happened (for the log and the webhook's answer)."""
    session.add(WebhookReceipt(provider=provider.name, event_id=event.event_id, kind=event.kind.value))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return "duplicate"
    payment = await _payment_for(session, provider.name, event)
    if payment is None:
        await session.commit()
        return "unknown_payment"
    if event.kind is EventKind.EXPIRED:
        return await _expired(session, ctx, payment)
    target = STATE_FOR[event.kind]
    if RANK[target] <= RANK[payment.state]:
        await session.commit()
        return "stale"
    payment.state = target
    order = await orders.get_order(session, payment.order_id)
    if target is PaymentState.SUCCEEDED:
        return await _succeeded(session, ctx, provider, event, order)
    if target is PaymentState.REFUNDED:
        return await _refunded(session, ctx, payment, order)
    await session.commit()
    return "failed"


async def _expired(session: AsyncSession, ctx: AppContext, payment: Payment) -> str:
    if payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        await session.commit()
        return "stale"
    order = await orders.get_order(session, payment.order_id)
    await session.commit()
    await orders.close_unpaid(session, ctx, order, OrderState.CANCELLED)
    return "cancelled"


async def _succeeded(
    session: AsyncSession, ctx: AppContext, provider: PaymentProvider, event: ProviderEvent, order: Order
) -> str:
    if await orders.mark_paid(session, ctx, order):  # commits the receipt and the payment with the order
        return "paid"
    # not pending any more (mark_paid rolled back): keep a receipt, then see why
    session.add(WebhookReceipt(provider=provider.name, event_id=event.event_id, kind=event.kind.value))
    await session.refresh(order)
    payment = await _payment_for(session, provider.name, event)
    assert payment is not None
    if order.state in OWNED or order.state is OrderState.REFUNDED:  # the same payment, told twice at once
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return "duplicate"
        return "stale"
    # the order expired or was cancelled before the money came: give the money back
    log.warning("payment for a closed order; refunding", extra={"order_id": order.id})
    payment.state = PaymentState.SUCCEEDED
    payment.refund_due = True
    try:
        await provider.refund(payment.reference, payment.amount)
        payment.state = PaymentState.REFUNDED
    except Exception:
        log.exception("automatic refund failed", extra={"order_id": order.id})
    await session.commit()
    return "refunded_closed_order"


async def _refunded(session: AsyncSession, ctx: AppContext, payment: Payment, order: Order) -> str:
    if order.state is OrderState.PENDING:  # the refund overtook its payment: pay, then refund
        await orders.mark_paid(session, ctx, order)
    else:
        await session.commit()
    await orders.mark_refunded(session, ctx, order)
    return "refunded"


async def refund(session: AsyncSession, ctx: AppContext, order: Order, actor_id: int | None = None) -> Order:
    """The host refunds a paid order: the provider returns the money, entitlements are revoked (and it is audited)."""
    await session.refresh(order)
    if order.state not in (OrderState.PAID, OrderState.FULFILLED):
        raise Conflict(f"a {order.state.value} order cannot be refunded", code="order.illegal_transition")
    audit.record(session, actor_id, "order.refunded", "order", order.id, total=order.total, currency=order.currency)
    payment = await latest_payment(session, order.id)
    if payment is not None and payment.state is PaymentState.SUCCEEDED:
        provider = runtime(ctx).provider_named(payment.provider) or runtime(ctx).provider
        await provider.refund(payment.reference, payment.amount)
        payment.state = PaymentState.REFUNDED
    await session.commit()
    await orders.mark_refunded(session, ctx, order)
    return order


# ---- the sandbox's hosted checkout ------------------------------------------------------------------------


async def sandbox_payment(session: AsyncSession, reference: str) -> tuple[Payment, Order]:
    payment = await session.scalar(select(Payment).where(Payment.provider == "sandbox", Payment.reference == reference))
    if payment is None:
        raise NotFound("no such checkout", code="payment.checkout_not_found")
    return payment, await orders.get_order(session, payment.order_id)


async def sandbox_act(session: AsyncSession, ctx: AppContext, reference: str, action: str) -> Order:
    """The buyer pressed pay, fail or abandon: queue the signed webhook the sandbox sends back to us."""
    payment, order = await sandbox_payment(session, reference)
    if order.state is not OrderState.PENDING or payment.state is PaymentState.SUCCEEDED:
        raise Conflict(f"this order is {order.state.value}", code=f"order.{order.state.value}")
    if action == "pay" and order.reserved_until is not None and order.reserved_until <= utcnow():
        raise Conflict("this order has expired", code="order.expired")
    kind = {"pay": EventKind.SUCCEEDED, "fail": EventKind.FAILED, "abandon": EventKind.EXPIRED}[action]
    body = sandbox_provider.event_body(kind, reference, order.id, payment.amount)
    session.add(OutboxMessage(topic="sandbox.webhook", body=body))
    await session.commit()
    runtime(ctx).kick()
    return order


async def deliver_webhooks(session: AsyncSession, ctx: AppContext) -> int:
    """POST queued sandbox webhooks, signed, to our own webhook URL over HTTP; retry with backoff."""
    rt = runtime(ctx)
    base = (ctx.settings.payment_webhook_url or ctx.settings.public_url).rstrip("/")
    url = f"{base}/api/v1/payments/sandbox/webhook"
    rows = list(
        await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.topic == "sandbox.webhook",
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.next_at <= utcnow(),
            )
            .order_by(OutboxMessage.id)
            .limit(50)
        )
    )
    delivered = 0
    for row in rows:
        headers = {sandbox_provider.HEADER: sandbox_provider.sign(rt.sandbox.secret, row.body)}
        headers["content-type"] = "application/json"
        row.attempts += 1
        try:
            response = await rt.http.post(url, content=row.body, headers=headers)
            ok = response.status_code < 300
            row.last_error = None if ok else f"HTTP {response.status_code}: {response.text[:200]}"
        except Exception as exc:
            ok, row.last_error = False, f"{type(exc).__name__}: {exc}"[:300]
        if ok:
            row.delivered_at = utcnow()
            delivered += 1
        else:
            row.next_at = utcnow() + timedelta(seconds=min(300, 2**row.attempts))
        await session.commit()
    return delivered
