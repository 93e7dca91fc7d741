"""Payments: start a checkout with the chosen method's provider, check and apply verified provider events,
refund.

Every payment gets our own ``reference`` (the out_trade_no the provider echoes back). Every notification is
checked against its payment before it may touch the order: the amount and currency must be the ones asked
for, and the merchant and app ids the ones configured for the provider; anything else is refused (the
provider hears "fail"), audited (``payment.notification_refused``), and the order is left untouched.

Events are applied once (a receipt per provider event id) and only ever move a payment up its ranked states
(created < failed < succeeded < refunded), so a repeated event changes nothing and a late one (a "failed"
after a "succeeded") is ignored. A "refunded" that overtakes its "succeeded" still ends the order refunded.
Money that arrives for an order that has already expired or been cancelled, or for a checkout that was
replaced (another method or amount), or twice for one order, is refunded at once.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.commerce import entitlements, order_events, orders
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.models import Order, OutboxMessage, Payment, PaymentRefund, WebhookReceipt
from knowcast.commerce.providers import sandbox as sandbox_provider
from knowcast.commerce.providers.base import (
    CheckoutRequest,
    EventKind,
    PaymentProvider,
    PayMethod,
    ProviderEvent,
    RefundRequest,
)
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.schemas import CheckoutOut
from knowcast.commerce.states import OWNED, RANK, OrderState, PaymentState
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from knowcast.privacy import audit

log = logging.getLogger(__name__)
STATE_FOR = {
    EventKind.SUCCEEDED: PaymentState.SUCCEEDED,
    EventKind.FAILED: PaymentState.FAILED,
    EventKind.REFUNDED: PaymentState.REFUNDED,
}
OPEN = (PaymentState.CREATED, PaymentState.FAILED)


def return_url(ctx: AppContext, order: Order) -> str:
    base = ctx.settings.public_url.rstrip("/")
    return f"{base}/rooms/{order.room_id}?order={order.id}" if order.room_id else f"{base}/library?order={order.id}"


def new_reference(order_id: int) -> str:
    """Our id for one payment attempt: at most 32 characters of [0-9a-z-] (WeChat's out_trade_no rule)."""
    return f"kc{order_id}-{secrets.token_hex(5)}"


def new_refund_reference(order_id: int) -> str:
    return f"rf{order_id}-{secrets.token_hex(5)}"


async def latest_payment(session: AsyncSession, order_id: int) -> Payment | None:
    query = select(Payment).where(Payment.order_id == order_id).order_by(Payment.id.desc()).limit(1)
    payment: Payment | None = await session.scalar(query)
    return payment


def choose(ctx: AppContext, method: PayMethod | None) -> tuple[PaymentProvider, PayMethod]:
    """The provider for a method (None: the first enabled provider's first method)."""
    rt = ctx.runtime(CommerceRuntime)
    if method is None:
        provider = rt.provider
        return provider, provider.methods[0]
    found = rt.provider_for(method)
    if found is None:
        raise ValidationFailed(
            f"{method.value} is not an enabled payment method here",
            code=CommerceCode.PAYMENT_METHOD_UNAVAILABLE,
            fields={"method": method.value},
        )
    return found, method


# the methods that work on each kind of device, best first (WeChat's browser blocks Alipay; a phone cannot
# scan its own screen; JSAPI only exists inside WeChat; H5 / wap need a phone browser)
DEVICE_METHODS: dict[str, tuple[PayMethod, ...]] = {
    "wechat": (PayMethod.WECHAT_JSAPI, PayMethod.CARD, PayMethod.SANDBOX),
    "phone": (PayMethod.WECHAT_H5, PayMethod.ALIPAY_WAP, PayMethod.CARD, PayMethod.SANDBOX),
    "desktop": (PayMethod.WECHAT_NATIVE, PayMethod.ALIPAY_PAGE, PayMethod.CARD, PayMethod.SANDBOX),
}
PHONE_MARKERS = ("iphone", "ipod", "android", "mobile", "harmonyos", "windows phone")


def device_of(user_agent: str) -> str:
    agent = user_agent.lower()
    if "micromessenger" in agent:
        return "wechat"
    if "ipad" in agent:
        return "desktop"
    return "phone" if any(marker in agent for marker in PHONE_MARKERS) else "desktop"


def methods_for(ctx: AppContext, device: str) -> list[tuple[PayMethod, PaymentProvider]]:
    """The enabled methods usable on a device, best first."""
    enabled = dict(ctx.runtime(CommerceRuntime).methods())
    return [(method, enabled[method]) for method in DEVICE_METHODS[device] if method in enabled]


def method_of(payment: Payment, ctx: AppContext) -> str:
    if payment.method:
        return payment.method
    provider = ctx.runtime(CommerceRuntime).provider_named(payment.provider)
    return provider.methods[0].value if provider and provider.methods else ""


def checkout_out(order: Order, payment: Payment, method: str) -> CheckoutOut:
    return CheckoutOut(
        order_id=order.id,
        method=method,
        checkout_url=payment.checkout_url,
        qr_code=payment.qr_code,
        jsapi=payment.jsapi,
        expires_at=order.reserved_until,
    )


async def start_checkout(
    session: AsyncSession,
    ctx: AppContext,
    user: User,
    order: Order,
    method: PayMethod | None = None,
    client_ip: str = "127.0.0.1",
    openid: str | None = None,
) -> CheckoutOut:
    """How the buyer pays. A free order is paid on the spot; an open checkout is reused for the same method
    and amount, else closed at its provider and replaced."""
    if order.user_id != user.id:
        raise NotFound("no such order", code=CommerceCode.ORDER_NOT_FOUND)
    if order.state is not OrderState.PENDING:
        raise Conflict(f"this order is {order.state.value}", code=CommerceCode(f"order.{order.state.value}"))
    if order.reserved_until is not None and order.reserved_until <= utcnow():
        raise Conflict("this order has expired", code=CommerceCode.ORDER_EXPIRED)
    if order.total == 0:
        await orders.mark_paid(session, ctx, order)
        return CheckoutOut(order_id=order.id, method=None, checkout_url=return_url(ctx, order))
    provider, chosen = choose(ctx, method)
    if chosen is PayMethod.WECHAT_JSAPI and not openid:  # first learn who pays, inside WeChat (snsapi_base)
        url = f"/pay/wechat/oauth?order={order.id}&next=/checkout/{order.id}"
        return CheckoutOut(order_id=order.id, method=chosen.value, checkout_url=url, expires_at=order.reserved_until)
    payment = await latest_payment(session, order.id)
    if payment is not None and payment.state in OPEN and payment.closed_at is None:
        same = payment.provider == provider.name and method_of(payment, ctx) == chosen.value
        if same and payment.amount == order.total and payment.currency == order.currency:
            return checkout_out(order, payment, chosen.value)
        await close_payment(session, ctx, payment)
    items = await orders.items_of(session, order.id)
    title = items[0].title if len(items) == 1 else f"{items[0].title} +{len(items) - 1}"
    request = CheckoutRequest(
        order_id=order.id,
        amount=order.total,
        currency=order.currency,
        title=title,
        return_url=return_url(ctx, order),
        method=chosen,
        reference=new_reference(order.id),
        client_ip=client_ip,
        openid=openid,
        expires_at=order.reserved_until,
    )
    checkout = await provider.create_checkout(request)
    payment = Payment(
        order_id=order.id,
        provider=provider.name,
        reference=checkout.reference,
        method=chosen.value,
        amount=order.total,
        currency=order.currency,
        checkout_url=checkout.url,
        qr_code=checkout.qr_code,
        jsapi=dict(checkout.jsapi) if checkout.jsapi is not None else None,
    )
    session.add(payment)
    await session.commit()
    return checkout_out(order, payment, chosen.value)


async def close_payment(session: AsyncSession, ctx: AppContext, payment: Payment) -> None:
    """Close an unpaid checkout at its provider so it can no longer be paid, and remember that it was."""
    provider = ctx.runtime(CommerceRuntime).provider_named(payment.provider)
    if provider is not None:
        await provider.close_checkout(payment.reference)
    payment.closed_at = utcnow()
    await session.commit()


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


def mismatch(provider: PaymentProvider, payment: Payment, event: ProviderEvent) -> tuple[str, object, object] | None:
    """What in a verified event disagrees with its payment or with the provider's configuration:
    (what, expected, got), or None when everything matches."""
    if provider.merchant_id is not None and event.merchant_id != provider.merchant_id:
        return "merchant", provider.merchant_id, event.merchant_id
    # a refund notification may name no app at all (WeChat Pay's REFUND.SUCCESS): then only the merchant counts
    app_stated = event.app_id is not None or event.kind is not EventKind.REFUNDED
    if provider.app_id is not None and app_stated and event.app_id != provider.app_id:
        return "app", provider.app_id, event.app_id
    if event.order_id is not None and event.order_id != payment.order_id:
        return "order", payment.order_id, event.order_id
    if event.currency is not None and event.currency.upper() != payment.currency.upper():
        return "currency", payment.currency, event.currency
    if event.kind is EventKind.SUCCEEDED and event.amount != payment.amount:
        return "amount", payment.amount, event.amount
    if event.kind is EventKind.REFUNDED and (event.amount is None or not 0 < event.amount <= payment.amount):
        return "amount", f"1..{payment.amount}", event.amount
    return None


async def refuse(
    session: AsyncSession,
    provider: PaymentProvider,
    payment: Payment,
    event: ProviderEvent,
    problem: tuple[str, object, object],
) -> str:
    what, expected, got = problem
    log.warning(
        "payment notification refused",
        extra={"provider": provider.name, "order_id": payment.order_id, "mismatch": what, "event_id": event.event_id},
    )
    audit.record(
        session,
        None,
        "payment.notification_refused",
        "order",
        payment.order_id,
        provider=provider.name,
        event_id=event.event_id,
        kind=event.kind.value,
        reference=payment.reference,
        mismatch=what,
        expected=str(expected),
        got=str(got),
    )
    await session.commit()
    return f"refused_{what}"


async def apply_event(session: AsyncSession, ctx: AppContext, provider: PaymentProvider, event: ProviderEvent) -> str:
    """Apply one verified provider event; returns what happened (for the log and the webhook's answer).
    An outcome starting with ``refused`` means the notification did not match its payment."""
    payment = await _payment_for(session, provider.name, event)
    if payment is not None:
        problem = mismatch(provider, payment, event)
        if problem is not None:
            return await refuse(session, provider, payment, event, problem)
    session.add(WebhookReceipt(provider=provider.name, event_id=event.event_id, kind=event.kind.value))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return "duplicate"
    if payment is None:
        await session.commit()
        return "unknown_payment"
    if event.provider_trade_id and not payment.provider_trade_id:
        payment.provider_trade_id = event.provider_trade_id
    if event.kind is EventKind.EXPIRED:
        return await _expired(session, ctx, payment)
    if event.kind is EventKind.REFUNDED:
        return await _refund_notified(session, ctx, provider, payment, event)
    target = STATE_FOR[event.kind]
    if RANK[target] <= RANK[payment.state]:
        await session.commit()
        return "stale"
    payment.state = target
    order = await orders.get_order(session, payment.order_id)
    if target is PaymentState.SUCCEEDED:
        payment.paid_at = utcnow()
        return await _succeeded(session, ctx, provider, event, order, payment)
    await session.commit()
    return "failed"


async def _expired(session: AsyncSession, ctx: AppContext, payment: Payment) -> str:
    if payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        await session.commit()
        return "stale"
    latest = await latest_payment(session, payment.order_id)
    if payment.closed_at is not None or (latest is not None and latest.id != payment.id):
        # the provider confirms closing a checkout we replaced (Alipay notifies TRADE_CLOSED after
        # alipay.trade.close): the order goes on with its newer checkout
        payment.closed_at = payment.closed_at or utcnow()
        await session.commit()
        return "closed_replaced_checkout"
    order = await orders.get_order(session, payment.order_id)
    await session.commit()
    await orders.close_unpaid(session, ctx, order, OrderState.CANCELLED)
    return "cancelled"


async def _succeeded(
    session: AsyncSession,
    ctx: AppContext,
    provider: PaymentProvider,
    event: ProviderEvent,
    order: Order,
    payment: Payment,
) -> str:
    if payment.amount != order.total or payment.closed_at is not None:
        # a replaced checkout (another method, or the price changed with a coupon) was paid after all
        return await _give_back(session, provider, payment, order, "refunded_replaced_checkout")
    if await orders.mark_paid(session, ctx, order):  # commits the receipt and the payment with the order
        return "paid"
    # not pending any more (mark_paid rolled back): keep a receipt, then see why
    session.add(WebhookReceipt(provider=provider.name, event_id=event.event_id, kind=event.kind.value))
    await session.refresh(order)
    await session.refresh(payment)
    if order.state in OWNED or order.state is OrderState.REFUNDED:
        paid_by = await session.scalar(
            select(Payment.id).where(
                Payment.order_id == order.id,
                Payment.id != payment.id,
                Payment.state.in_((PaymentState.SUCCEEDED, PaymentState.REFUNDED)),
            )
        )
        if paid_by is None or payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
            try:  # the same payment, told twice at once
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return "duplicate"
            return "stale"
        return await _give_back(session, provider, payment, order, "refunded_double_payment")
    # the order expired or was cancelled before the money came: give the money back
    return await _give_back(session, provider, payment, order, "refunded_closed_order")


async def _give_back(
    session: AsyncSession, provider: PaymentProvider, payment: Payment, order: Order, outcome: str
) -> str:
    """Money came that the order must not keep: refund all of it at once (or leave it marked refund_due)."""
    log.warning("payment that cannot be kept; refunding", extra={"order_id": order.id, "outcome": outcome})
    payment.state = PaymentState.SUCCEEDED
    payment.refund_due = True
    audit.record(session, None, "payment.returned", "order", order.id, reference=payment.reference, why=outcome)
    try:
        await session.commit()
    except IntegrityError:  # the receipt: this event was applied meanwhile
        await session.rollback()
        return "duplicate"
    row = PaymentRefund(
        payment_id=payment.id,
        order_id=order.id,
        reference=new_refund_reference(order.id),
        amount=payment.amount - payment.refunded,
        reason=outcome,
    )
    session.add(row)
    await session.commit()
    request = RefundRequest(payment.reference, row.reference, row.amount, payment.amount, payment.currency, "duplicate")
    try:
        result = await provider.refund(request)
        row.provider_refund_id = result.provider_refund_id
        if result.done:
            row.state, row.done_at = "succeeded", utcnow()
            payment.state = PaymentState.REFUNDED
            payment.refunded = payment.amount
    except Exception:
        row.state = "failed"
        log.exception("automatic refund failed", extra={"order_id": order.id})
    await session.commit()
    return outcome


# ---- refunds ----------------------------------------------------------------------------------------------


async def _refund_notified(
    session: AsyncSession, ctx: AppContext, provider: PaymentProvider, payment: Payment, event: ProviderEvent
) -> str:
    """The provider says a refund went through: ours (pending until now, or already done) or one made in the
    merchant's own console, which we record. A refund that overtakes its payment still ends the order refunded."""
    amount = event.amount or 0
    reference = event.refund_reference or event.event_id
    row = await session.scalar(
        select(PaymentRefund).where(PaymentRefund.payment_id == payment.id, PaymentRefund.reference == reference)
    )
    if row is not None and row.state == "succeeded":
        await session.commit()
        return "stale"
    if row is None:
        left = payment.amount - payment.refunded
        if amount > left:
            await session.rollback()  # no receipt: the same notification is refused again, never half-applied
            await session.refresh(payment)
            return await refuse(session, provider, payment, event, ("amount", f"at most {left}", amount))
        row = PaymentRefund(payment_id=payment.id, order_id=payment.order_id, reference=reference, amount=amount)
        row.reason = "refunded at the provider"
        session.add(row)
    order = await orders.get_order(session, payment.order_id)
    if payment.state in OPEN:  # the refund overtook its payment: it was paid, then
        payment.state = PaymentState.SUCCEEDED
        payment.paid_at = utcnow()
        if order.state is OrderState.PENDING:
            await orders.mark_paid(session, ctx, order)  # commits the receipt and the refund row too
    return await _refund_done(session, ctx, payment, row, order, event.provider_trade_id)


async def _refund_done(
    session: AsyncSession,
    ctx: AppContext,
    payment: Payment,
    row: PaymentRefund,
    order: Order,
    provider_refund_id: str | None = None,
) -> str:
    """Money went back: count it; all of it refunds the order (everything revoked), a part revokes the
    products the refund names (none: the buyer keeps everything, e.g. a goodwill discount)."""
    row.state = "succeeded"
    row.done_at = utcnow()
    row.provider_refund_id = row.provider_refund_id or provider_refund_id
    payment.refunded = min(payment.amount, payment.refunded + row.amount)
    full = payment.refunded >= payment.amount
    if full:
        payment.state = PaymentState.REFUNDED
    await session.commit()
    if full:
        await orders.mark_refunded(session, ctx, order)
        return "refunded"
    if row.product_ids:
        await entitlements.revoke_products(session, order.id, list(row.product_ids))
        await session.commit()
    await session.refresh(order)
    lines = order_events.lines_of(await orders.items_of(session, order.id))
    extra = {"refund_amount": row.amount, "refunded": payment.refunded, "revoked_products": row.product_ids or []}
    await ctx.bus.publish(order_events.order_event("order.partially_refunded", order, lines, **extra))
    return "partially_refunded"


async def refund(
    session: AsyncSession,
    ctx: AppContext,
    order: Order,
    actor_id: int | None = None,
    amount: int | None = None,
    product_ids: list[int] | None = None,
    reason: str = "",
) -> Order:
    """The host refunds a paid order, all of what is left (``amount`` None) or a part. All of it revokes
    everything; a part revokes the named products (their entitlements) and keeps the order paid. Audited."""
    await session.refresh(order)
    if order.state not in (OrderState.PAID, OrderState.FULFILLED):
        raise Conflict(f"a {order.state.value} order cannot be refunded", code=CommerceCode.ORDER_ILLEGAL_TRANSITION)
    payment = await session.scalar(
        select(Payment)
        .where(Payment.order_id == order.id, Payment.state == PaymentState.SUCCEEDED)
        .order_by(Payment.id.desc())
        .limit(1)
    )
    if payment is None:  # a free order (or one paid before payments were recorded): nothing to send back
        if amount:
            raise ValidationFailed(
                "this order took no money", code=CommerceCode.PAYMENT_REFUND_TOO_LARGE, fields={"amount": str(amount)}
            )
        audit.record(session, actor_id, "order.refunded", "order", order.id, total=0, currency=order.currency)
        await session.commit()
        await orders.mark_refunded(session, ctx, order)
        return order
    provider = ctx.runtime(CommerceRuntime).provider_named(payment.provider)
    if provider is None:
        raise Conflict(
            f"the {payment.provider} provider is not enabled: refund it there, or enable it",
            code=CommerceCode.PAYMENT_PROVIDER_DISABLED,
        )
    in_flight = await session.scalar(
        select(func.coalesce(func.sum(PaymentRefund.amount), 0)).where(
            PaymentRefund.payment_id == payment.id, PaymentRefund.state == "pending"
        )
    )
    left = payment.amount - payment.refunded - int(in_flight or 0)
    amount = left if amount is None else amount
    if not 0 < amount <= left:
        raise ValidationFailed(
            f"at most {left} can be refunded",
            code=CommerceCode.PAYMENT_REFUND_TOO_LARGE,
            fields={"amount": str(amount), "left": str(left)},
        )
    items = {item.product_id for item in await orders.items_of(session, order.id)}
    named = sorted(set(product_ids or []))
    if any(pid not in items for pid in named):
        raise ValidationFailed(
            "a product is not in this order",
            code=CommerceCode.PAYMENT_REFUND_PRODUCT,
            fields={"products": ",".join(map(str, named))},
        )
    row = PaymentRefund(
        payment_id=payment.id,
        order_id=order.id,
        reference=new_refund_reference(order.id),
        amount=amount,
        product_ids=named or None,
        reason=reason[:200],
        actor_id=actor_id,
    )
    session.add(row)
    audit.record(
        session,
        actor_id,
        "order.refunded" if amount == left else "order.partially_refunded",
        "order",
        order.id,
        amount=amount,
        total=order.total,
        currency=order.currency,
        products=named,
    )
    await session.commit()
    request = RefundRequest(payment.reference, row.reference, amount, payment.amount, payment.currency, reason)
    try:
        result = await provider.refund(request)
    except Exception as exc:
        log.exception("refund failed at the provider", extra={"order_id": order.id})
        row.state = "failed"
        await session.commit()
        raise ServiceUnavailable(
            f"{provider.name} did not take the refund; nothing was refunded", code=CommerceCode.PAYMENT_REFUND_FAILED
        ) from exc
    await session.refresh(row)  # its notification may have come while we waited for the answer
    await session.refresh(payment)
    row.provider_refund_id = row.provider_refund_id or result.provider_refund_id
    if result.done and row.state == "pending":
        await _refund_done(session, ctx, payment, row, order)
    else:  # the provider confirms later, with a refund notification (or the sweeper's query)
        await session.commit()
    await session.refresh(order)
    return order


# ---- what the sweeper does for payments ------------------------------------------------------------------


async def recover_missed(session: AsyncSession, ctx: AppContext, batch: int = 50) -> int:
    """Ask the provider about open payments of pending orders a while old (their notification may never
    come), backing off per payment; apply what it says. Returns how many were asked."""
    rt = ctx.runtime(CommerceRuntime)
    now = utcnow()
    after = timedelta(seconds=ctx.settings.payment_query_after_seconds)
    due = list(
        await session.scalars(
            select(Payment)
            .join(Order, Order.id == Payment.order_id)
            .where(
                Payment.state.in_(OPEN),
                Payment.closed_at.is_(None),
                Order.state == OrderState.PENDING,
                or_(
                    Payment.next_query_at <= now,
                    and_(Payment.next_query_at.is_(None), Payment.created_at <= now - after),
                ),
            )
            .order_by(Payment.id)
            .limit(batch)
        )
    )
    for payment in due:
        payment.query_attempts += 1
        wait = min(600.0, max(after.total_seconds(), 1.0) * 2**payment.query_attempts)
        payment.next_query_at = now + timedelta(seconds=wait)
        provider, reference, pid = rt.provider_named(payment.provider), payment.reference, payment.id
        await session.commit()
        if provider is None:
            continue
        try:
            event = await provider.query(reference)
        except Exception:
            log.exception("payment query failed", extra={"payment_id": pid, "provider": provider.name})
            continue
        if event is not None:
            outcome = await apply_event(session, ctx, provider, event)
            log.info("payment recovered by query", extra={"payment_id": pid, "outcome": outcome})
    return len(due)


async def close_abandoned(session: AsyncSession, ctx: AppContext, batch: int = 50) -> int:
    """Close at the provider the open checkouts of orders that expired or were cancelled, so they can no
    longer be paid. A checkout paid meanwhile is applied instead (its money goes back: the order is closed)."""
    rt = ctx.runtime(CommerceRuntime)
    now = utcnow()
    rows = list(
        await session.scalars(
            select(Payment)
            .join(Order, Order.id == Payment.order_id)
            .where(
                Payment.state.in_(OPEN),
                Payment.closed_at.is_(None),
                Order.state.in_((OrderState.EXPIRED, OrderState.CANCELLED)),
                or_(Payment.next_query_at.is_(None), Payment.next_query_at <= now),
            )
            .order_by(Payment.id)
            .limit(batch)
        )
    )
    closed = 0
    for payment in rows:
        provider, reference, pid = rt.provider_named(payment.provider), payment.reference, payment.id
        if provider is None:  # its provider was disabled: look again tomorrow, and let the others through
            payment.next_query_at = now + timedelta(days=1)
            await session.commit()
            continue
        try:
            event = await provider.query(reference)
            if event is not None and event.kind is EventKind.SUCCEEDED:
                await apply_event(session, ctx, provider, event)
                continue
            await provider.close_checkout(reference)
        except Exception:
            log.exception("closing a checkout failed", extra={"payment_id": pid, "provider": provider.name})
            fresh = await session.get(Payment, pid)
            if fresh is not None:
                fresh.query_attempts += 1
                fresh.next_query_at = utcnow() + timedelta(seconds=min(600, 2**fresh.query_attempts))
                await session.commit()
            continue
        fresh = await session.get(Payment, pid)
        if fresh is not None and fresh.closed_at is None:
            fresh.closed_at = utcnow()
            await session.commit()
            closed += 1
    return closed


# ---- the sandbox's hosted checkout ------------------------------------------------------------------------


async def sandbox_payment(session: AsyncSession, reference: str) -> tuple[Payment, Order]:
    payment = await session.scalar(select(Payment).where(Payment.provider == "sandbox", Payment.reference == reference))
    if payment is None:
        raise NotFound("no such checkout", code=CommerceCode.PAYMENT_CHECKOUT_NOT_FOUND)
    return payment, await orders.get_order(session, payment.order_id)


async def sandbox_act(session: AsyncSession, ctx: AppContext, reference: str, action: str) -> Order:
    """The buyer pressed pay, fail or abandon: queue the signed webhook the sandbox sends back to us."""
    payment, order = await sandbox_payment(session, reference)
    if order.state is not OrderState.PENDING or payment.state is PaymentState.SUCCEEDED:
        raise Conflict(f"this order is {order.state.value}", code=CommerceCode(f"order.{order.state.value}"))
    if payment.closed_at is not None:
        raise Conflict("this checkout was closed", code=CommerceCode.PAYMENT_CHECKOUT_CLOSED)
    if action == "pay" and order.reserved_until is not None and order.reserved_until <= utcnow():
        raise Conflict("this order has expired", code=CommerceCode.ORDER_EXPIRED)
    kind = {"pay": EventKind.SUCCEEDED, "fail": EventKind.FAILED, "abandon": EventKind.EXPIRED}[action]
    body = sandbox_provider.event_body(kind, reference, order.id, payment.amount, payment.currency)
    session.add(OutboxMessage(topic="sandbox.webhook", body=body))
    await session.commit()
    ctx.runtime(CommerceRuntime).kick()
    return order


async def deliver_webhooks(session: AsyncSession, ctx: AppContext) -> int:
    """POST queued sandbox webhooks, signed, to our own webhook URL over HTTP; retry with backoff."""
    rt = ctx.runtime(CommerceRuntime)
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
