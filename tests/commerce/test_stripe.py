"""The Stripe Checkout adapter, offline: Stripe cannot be reached from here, so these tests build the event
payloads Stripe would send and sign them with the official library's own test helper,
``stripe.WebhookSignature.generate_signature_header`` — the same HMAC scheme Stripe's servers use — then run
them through ``StripeProvider.verify`` and the shop's webhook endpoint. Creating checkout sessions and
refunds (network calls) is not tested."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe

from knowcast.commerce.providers.base import EventKind, WebhookRejected
from knowcast.commerce.providers.stripe import StripeProvider

SECRET = "whsec_test_secret"


def _event(kind: str, obj: dict[str, Any], event_id: str = "evt_1") -> str:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": obj}})


def _signed(payload: str, secret: str = SECRET, **kw: Any) -> dict[str, str]:
    return {"stripe-signature": stripe.WebhookSignature.generate_signature_header(payload, secret, **kw)}


async def test_a_completed_checkout_is_a_success() -> None:
    provider = StripeProvider(None, SECRET)
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": 990,
        "metadata": {"order_id": "42"},
    }
    payload = _event("checkout.session.completed", session)
    event = await provider.verify(payload.encode(), _signed(payload))
    assert event is not None
    assert (event.kind, event.reference, event.order_id, event.amount) == (EventKind.SUCCEEDED, "cs_test_1", 42, 990)


async def test_refunds_expiries_and_ignored_events() -> None:
    provider = StripeProvider(None, SECRET)
    refund = {
        "id": "re_1",
        "object": "refund",
        "status": "succeeded",
        "amount": 300,
        "currency": "cny",
        "metadata": {"order_id": "42", "reference": "cs_test_1", "refund_reference": "rf42-1"},
    }
    payload = _event("refund.updated", refund, "evt_2")
    refunded = await provider.verify(payload.encode(), _signed(payload))
    assert refunded is not None
    assert (refunded.kind, refunded.reference, refunded.order_id, refunded.amount, refunded.refund_reference) == (
        EventKind.REFUNDED,
        "cs_test_1",
        42,
        300,
        "rf42-1",
    )
    pending = _event("refund.created", {**refund, "status": "pending"}, "evt_3")
    assert await provider.verify(pending.encode(), _signed(pending)) is None
    expired = _event(
        "checkout.session.expired", {"id": "cs_2", "object": "checkout.session", "metadata": {"order_id": "7"}}
    )
    assert (await provider.verify(expired.encode(), _signed(expired))).kind is EventKind.EXPIRED  # type: ignore[union-attr]
    unpaid = _event(
        "checkout.session.completed", {"id": "cs_3", "object": "checkout.session", "payment_status": "unpaid"}
    )
    assert await provider.verify(unpaid.encode(), _signed(unpaid)) is None
    other = _event("customer.created", {"id": "cus_1", "object": "customer"})
    assert await provider.verify(other.encode(), _signed(other)) is None


async def test_forged_tampered_and_stale_signatures_are_refused() -> None:
    provider = StripeProvider(None, SECRET)
    payload = _event(
        "checkout.session.completed", {"id": "cs_1", "object": "checkout.session", "payment_status": "paid"}
    )
    with pytest.raises(WebhookRejected):
        await provider.verify(payload.encode(), _signed(payload, secret="whsec_wrong"))
    with pytest.raises(WebhookRejected):
        await provider.verify(payload.replace("cs_1", "cs_9").encode(), _signed(payload))
    with pytest.raises(WebhookRejected):
        await provider.verify(payload.encode(), _signed(payload, timestamp=int(time.time()) - 3600))
    with pytest.raises(WebhookRejected):
        await provider.verify(payload.encode(), {})
    with pytest.raises(WebhookRejected):
        await StripeProvider(None, None).verify(payload.encode(), _signed(payload))


async def test_the_stripe_webhook_endpoint_is_off_until_configured(client: Any) -> None:
    payload = _event("checkout.session.completed", {"id": "cs_1", "object": "checkout.session"})
    response = await client.post("/api/v1/payments/stripe/webhook", content=payload, headers=_signed(payload))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "payment.unknown_provider"
