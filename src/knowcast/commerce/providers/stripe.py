"""Stripe Checkout, through the official ``stripe`` library.

Checkout sessions are created with ``stripe.checkout.Session.create`` (needs the network and a secret key);
webhooks are verified with ``stripe.Webhook.construct_event`` (HMAC ``Stripe-Signature`` with a
tolerance). The tests exercise the verification and event mapping offline: they build payloads and sign them
with ``stripe.WebhookSignature.generate_signature_header`` — the library's own helper — and feed them to
``verify``; creating sessions and refunds is not tested here because it needs Stripe's servers.

Events used: ``checkout.session.completed`` (paid), ``checkout.session.async_payment_succeeded``,
``checkout.session.async_payment_failed``, ``checkout.session.expired``, ``charge.refunded``. The order id
travels in ``metadata.order_id`` (session) and the payment intent's metadata (charges).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import stripe

from knowcast.commerce.providers.base import (
    CheckoutRequest,
    CheckoutSession,
    EventKind,
    PaymentProvider,
    ProviderEvent,
    WebhookRejected,
)

KINDS = {
    "checkout.session.completed": EventKind.SUCCEEDED,
    "checkout.session.async_payment_succeeded": EventKind.SUCCEEDED,
    "checkout.session.async_payment_failed": EventKind.FAILED,
    "checkout.session.expired": EventKind.EXPIRED,
    "charge.refunded": EventKind.REFUNDED,
}


class StripeProvider(PaymentProvider):
    name = "stripe"

    def __init__(self, secret_key: str | None, webhook_secret: str | None) -> None:
        self.client = stripe.StripeClient(secret_key) if secret_key else None
        self.webhook_secret = webhook_secret

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        if self.client is None:
            raise RuntimeError("KNOWCAST_STRIPE_SECRET_KEY is not set")
        metadata = {"order_id": str(request.order_id)}
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
        session = await asyncio.to_thread(self.client.v1.checkout.sessions.create, params)  # type: ignore[arg-type]
        return CheckoutSession(reference=str(session.id), url=str(session.url))

    def verify(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent | None:
        if not self.webhook_secret:
            raise WebhookRejected("Stripe webhooks are not configured", code="payment.not_configured")
        try:
            event = stripe.Webhook.construct_event(body, headers.get("stripe-signature"), self.webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected("the Stripe signature does not match", code="payment.bad_signature") from exc
        except ValueError:
            return None
        return _mapped(event.to_dict())

    async def refund(self, reference: str, amount: int) -> None:
        if self.client is None:
            raise RuntimeError("KNOWCAST_STRIPE_SECRET_KEY is not set")
        client = self.client
        session = await asyncio.to_thread(client.v1.checkout.sessions.retrieve, reference)
        params: dict[str, Any] = {"payment_intent": str(session.payment_intent), "amount": amount}
        await asyncio.to_thread(client.v1.refunds.create, params)  # type: ignore[arg-type]


def _mapped(event: dict[str, Any]) -> ProviderEvent | None:
    """A verified Stripe event, reduced to what the order needs (None for events we do not act on)."""
    kind = KINDS.get(str(event.get("type")))
    if kind is None:
        return None
    obj = event["data"]["object"]
    paid = obj.get("payment_status") in ("paid", "no_payment_required")
    if event["type"] == "checkout.session.completed" and not paid:
        return None  # an async method (bank transfer) pays later: wait for async_payment_succeeded
    metadata = obj.get("metadata") or {}
    order_id = metadata.get("order_id") or obj.get("client_reference_id")
    is_session = str(obj.get("object")) == "checkout.session"
    amount = obj.get("amount_total") if is_session else obj.get("amount_refunded")
    return ProviderEvent(
        event_id=str(event["id"]),
        kind=kind,
        reference=str(obj["id"]) if is_session else None,
        order_id=int(order_id) if order_id else None,
        amount=int(amount) if amount is not None else None,
    )
