"""Stripe Checkout, through the official ``stripe`` library (``StripeClient``; its ``base_addresses`` point
it at a local Stripe simulator in the tests).

A payment's reference is the Checkout Session id (``cs_...``): Stripe names the checkout, so ``query``,
``close_checkout`` and ``refund`` find it directly; our own reference and the order id travel in the
session's and the payment intent's metadata. Webhooks are verified with ``stripe.Webhook.construct_event``
(HMAC ``Stripe-Signature`` with a tolerance).

Events used: ``checkout.session.completed`` (paid), ``checkout.session.async_payment_succeeded``,
``checkout.session.async_payment_failed``, ``checkout.session.expired``, ``refund.created`` /
``refund.updated`` (a refund that has succeeded: this refund's amount, so partial refunds add up).

Notification checks: ``app_id`` is the mode ("live" or "test", from the secret key and the event's
``livemode``), so a test-mode event can never pay a live order; ``merchant_id`` is the connected account
(``KNOWCAST_STRIPE_ACCOUNT``) when one is set, compared with the event's ``account``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import stripe

from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.providers.base import (
    CheckoutRequest,
    CheckoutSession,
    EventKind,
    PaymentProvider,
    PayMethod,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    Statement,
    StatementLine,
    WebhookRejected,
)
from knowcast.errors import ConfigError, ServiceUnavailable

T = TypeVar("T")

KINDS = {
    "checkout.session.completed": EventKind.SUCCEEDED,
    "checkout.session.async_payment_succeeded": EventKind.SUCCEEDED,
    "checkout.session.async_payment_failed": EventKind.FAILED,
    "checkout.session.expired": EventKind.EXPIRED,
    "refund.created": EventKind.REFUNDED,
    "refund.updated": EventKind.REFUNDED,
}


def _call(fn: Callable[..., T], *args: Any) -> T:
    """One Stripe API call (in a worker thread), its failures as Knowcast errors with stable codes."""
    try:
        return fn(*args)
    except stripe.APIConnectionError as exc:
        raise ServiceUnavailable(
            "Stripe cannot be reached right now", code=CommerceCode.PAYMENT_PROVIDER_UNAVAILABLE
        ) from exc
    except stripe.AuthenticationError as exc:
        raise ConfigError(
            "Stripe refused the secret key (KNOWCAST_STRIPE_SECRET_KEY)", code=CommerceCode.PAYMENT_NOT_CONFIGURED
        ) from exc
    except stripe.StripeError as exc:
        message = exc.user_message or str(exc) or type(exc).__name__
        raise ServiceUnavailable(f"Stripe refused: {message}", code=CommerceCode.PAYMENT_PROVIDER_ERROR) from exc


async def _to_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(_call, fn, *args)


def mode_of(secret_key: str | None) -> str:
    return "live" if (secret_key or "").startswith(("sk_live_", "rk_live_")) else "test"


class StripeProvider(PaymentProvider):
    name = "stripe"
    methods = (PayMethod.CARD,)
    statement_timezone = "UTC"
    reports_outcome = True

    def __init__(
        self,
        secret_key: str | None,
        webhook_secret: str | None,
        api_base: str | None = None,
        account: str | None = None,
    ) -> None:
        addresses: Any = {"api": api_base.rstrip("/")} if api_base else {}
        self.client = (
            stripe.StripeClient(
                secret_key, stripe_account=account or None, base_addresses=addresses, max_network_retries=1
            )
            if secret_key
            else None
        )
        self.webhook_secret = webhook_secret
        self.app_id = mode_of(secret_key)
        self.merchant_id = account or None

    def _client(self) -> stripe.StripeClient:
        if self.client is None:
            raise ConfigError(
                "Stripe is not configured: set KNOWCAST_STRIPE_SECRET_KEY", code=CommerceCode.PAYMENT_NOT_CONFIGURED
            )
        return self.client

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        client = self._client()
        metadata = {"order_id": str(request.order_id), "reference": request.reference}
        params: dict[str, Any] = {
            "mode": "payment",
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "client_reference_id": str(request.order_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount,
                        "product_data": {"name": request.title},
                    },
                }
            ],
        }
        if request.expires_at is not None:  # Stripe allows 30 minutes to 24 hours from now
            now = datetime.now(UTC)
            latest = min(max(request.expires_at, now + timedelta(minutes=30, seconds=5)), now + timedelta(hours=23))
            params["expires_at"] = int(latest.timestamp())
        options: stripe.RequestOptions = (
            {"idempotency_key": f"checkout-{request.reference}"} if request.reference else {}
        )
        session = await _to_thread(client.v1.checkout.sessions.create, params, options)
        return CheckoutSession(reference=str(session.id), url=str(session.url or ""))

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent | None:
        if not self.webhook_secret:
            raise WebhookRejected("Stripe webhooks are not configured", code=CommerceCode.PAYMENT_NOT_CONFIGURED)
        try:
            event = stripe.Webhook.construct_event(body, headers.get("stripe-signature") or "", self.webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(
                "the Stripe signature does not match", code=CommerceCode.PAYMENT_BAD_SIGNATURE
            ) from exc
        except ValueError:
            return None
        return _mapped(event.to_dict())

    async def query(self, reference: str) -> ProviderEvent | None:
        client = self._client()
        session = (await _to_thread(client.v1.checkout.sessions.retrieve, reference)).to_dict()
        paid = session.get("payment_status") in ("paid", "no_payment_required")
        if session.get("status") == "complete" and paid:
            kind = EventKind.SUCCEEDED
        elif session.get("status") == "expired":
            kind = EventKind.EXPIRED
        else:
            return None
        # asked with our own key (and account): the answer is about our merchant and mode by construction
        return _session_event(f"query:{reference}:{kind.value}", kind, session, self.merchant_id)

    async def close_checkout(self, reference: str) -> None:
        client = self._client()
        session = await _to_thread(client.v1.checkout.sessions.retrieve, reference)
        if session.status == "open":
            await _to_thread(client.v1.checkout.sessions.expire, reference)

    async def refund(self, request: RefundRequest) -> RefundResult:
        client = self._client()
        session = await _to_thread(client.v1.checkout.sessions.retrieve, request.reference)
        params: dict[str, Any] = {
            "payment_intent": str(session.payment_intent),
            "amount": request.amount,
            "metadata": {
                "reference": request.reference,
                "refund_reference": request.refund_reference,
                **(
                    {"order_id": session.metadata["order_id"]}
                    if session.metadata and "order_id" in session.metadata
                    else {}
                ),
            },
        }
        if request.reason in ("duplicate", "fraudulent", "requested_by_customer"):
            params["reason"] = request.reason
        options: stripe.RequestOptions = {"idempotency_key": f"refund-{request.refund_reference}"}
        refund = await _to_thread(client.v1.refunds.create, params, options)
        return RefundResult(request.refund_reference, str(refund.id), done=refund.status == "succeeded")

    async def statement(self, day: date) -> Statement:
        """Sessions completed and refunds made during the (UTC) day."""
        client = self._client()
        start = datetime.combine(day, time(0), tzinfo=UTC)
        span = {"gte": int(start.timestamp()), "lt": int((start + timedelta(days=1)).timestamp())}
        return await _to_thread(self._statement, client, day, span)

    def _statement(self, client: stripe.StripeClient, day: date, span: dict[str, int]) -> Statement:
        lines: list[StatementLine] = []
        session_query: Any = {"created": span, "status": "complete", "limit": 100}
        sessions = client.v1.checkout.sessions.list(session_query)
        for session in sessions.auto_paging_iter():
            if session.payment_status != "paid" or session.amount_total is None:
                continue
            lines.append(
                StatementLine(
                    reference=session.id,
                    kind="payment",
                    amount=session.amount_total,
                    currency=(session.currency or "").upper(),
                    at=datetime.fromtimestamp(session.created, UTC),
                    provider_trade_id=str(session.payment_intent) if session.payment_intent else None,
                )
            )
        refund_query: Any = {"created": span, "limit": 100}
        for refund in client.v1.refunds.list(refund_query).auto_paging_iter():
            if refund.status != "succeeded":
                continue
            metadata: dict[str, str] = refund.metadata.to_dict() if refund.metadata else {}
            reference = metadata.get("reference")
            if not reference and refund.payment_intent:
                found = client.v1.checkout.sessions.list({"payment_intent": str(refund.payment_intent), "limit": 1})
                reference = found.data[0].id if found.data else None
            lines.append(
                StatementLine(
                    reference=reference or "",
                    kind="refund",
                    amount=refund.amount,
                    currency=refund.currency.upper(),
                    at=datetime.fromtimestamp(refund.created, UTC),
                    provider_trade_id=str(refund.payment_intent) if refund.payment_intent else None,
                    refund_reference=metadata.get("refund_reference") or refund.id,
                )
            )
        return Statement(day=day, lines=lines)


def _session_event(
    event_id: str, kind: EventKind, obj: dict[str, Any], account: str | None = None, livemode: bool | None = None
) -> ProviderEvent:
    metadata = obj.get("metadata") or {}
    order_id = metadata.get("order_id") or obj.get("client_reference_id")
    amount = obj.get("amount_total")
    return ProviderEvent(
        event_id=event_id,
        kind=kind,
        reference=str(obj["id"]),
        order_id=int(order_id) if order_id else None,
        amount=int(amount) if amount is not None else None,
        currency=str(obj["currency"]).upper() if obj.get("currency") else None,
        merchant_id=account,
        app_id="live" if (obj.get("livemode") if livemode is None else livemode) else "test",
        provider_trade_id=str(obj["payment_intent"]) if obj.get("payment_intent") else None,
    )


def _mapped(event: dict[str, Any]) -> ProviderEvent | None:
    """A verified Stripe event, reduced to what the order needs (None for events we do not act on)."""
    kind = KINDS.get(str(event.get("type")))
    if kind is None:
        return None
    obj = event["data"]["object"]
    account = str(event["account"]) if event.get("account") else None
    if str(obj.get("object")) == "refund":
        if obj.get("status") != "succeeded":
            return None  # pending or failed: a refund.updated follows
        metadata = obj.get("metadata") or {}
        order_id = metadata.get("order_id")
        return ProviderEvent(
            event_id=f"refund:{obj['id']}",  # refund.created and refund.updated of one refund are one event
            kind=kind,
            reference=metadata.get("reference"),
            order_id=int(order_id) if order_id else None,
            amount=int(obj["amount"]),
            currency=str(obj.get("currency") or "").upper() or None,
            merchant_id=account,
            app_id="live" if event.get("livemode") else "test",
            provider_trade_id=str(obj["payment_intent"]) if obj.get("payment_intent") else None,
            refund_reference=metadata.get("refund_reference") or str(obj["id"]),
        )
    paid = obj.get("payment_status") in ("paid", "no_payment_required")
    if event["type"] == "checkout.session.completed" and not paid:
        return None  # an async method (bank transfer) pays later: wait for async_payment_succeeded
    return _session_event(str(event["id"]), kind, obj, account, bool(event.get("livemode")))
