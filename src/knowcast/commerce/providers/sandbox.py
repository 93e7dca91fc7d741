"""The built-in sandbox provider: a hosted checkout page served by Knowcast itself (pay, fail, abandon)
that confirms through an HMAC-signed webhook delivered over real HTTP, exactly like a real provider would.

Signature header: ``Knowcast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
A signature older than ``TOLERANCE`` seconds is refused, so a captured webhook cannot be replayed later;
within the window a replay carries an event id that was already applied and changes nothing.

Events name the merchant (``MERCHANT``) and carry the amount and currency, so the sandbox goes through the
same notification checks as a real provider (payments.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

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
    WebhookRejected,
)
from knowcast.db.engine import Database
from knowcast.errors import Conflict
from knowcast.timing import same_secret

HEADER = "knowcast-signature"
TOLERANCE = 300
MERCHANT = "knowcast-sandbox"


def secret_from(secret_key: str, configured: str | None) -> str:
    if configured:
        return configured
    return hmac.new(secret_key.encode(), b"sandbox-webhooks", hashlib.sha256).hexdigest()


def sign(secret: str, body: str, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def event_body(
    kind: EventKind,
    reference: str,
    order_id: int,
    amount: int,
    currency: str = "CNY",
    merchant: str = MERCHANT,
    refund_reference: str | None = None,
) -> str:
    data: dict[str, Any] = {
        "reference": reference,
        "order_id": order_id,
        "amount": amount,
        "currency": currency,
        "merchant": merchant,
    }
    if refund_reference:
        data["refund_reference"] = refund_reference
    event: dict[str, Any] = {
        "id": "evt_" + secrets.token_hex(12),
        "type": f"payment.{kind.value}",
        "created": time.time(),
        "data": data,
    }
    return json.dumps(event, separators=(",", ":"))


class SandboxProvider(PaymentProvider):
    name = "sandbox"
    methods = (PayMethod.SANDBOX,)
    merchant_id = MERCHANT
    statement_timezone = "UTC"
    reports_outcome = True

    def __init__(self, public_url: str, secret: str, db: Database | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self.secret = secret
        self.db = db  # the sandbox's own books are the webhooks it queued (commerce_outbox)

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        reference = request.reference or "sbx_" + secrets.token_urlsafe(18)
        return CheckoutSession(reference=reference, url=f"{self.public_url}/sandbox/checkout/{reference}")

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent | None:
        header = headers.get(HEADER) or ""
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            stamp = int(parts.get("t", ""))
        except ValueError:
            raise WebhookRejected("missing or unreadable signature", code=CommerceCode.PAYMENT_BAD_SIGNATURE) from None
        expected = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not same_secret(parts.get("v1", ""), expected):
            raise WebhookRejected("the webhook signature does not match", code=CommerceCode.PAYMENT_BAD_SIGNATURE)
        if abs(time.time() - stamp) > TOLERANCE:
            raise WebhookRejected("the webhook signature is too old", code=CommerceCode.PAYMENT_STALE_SIGNATURE)
        try:
            event = json.loads(body)
            data = event["data"]
            kind = EventKind(str(event["type"]).removeprefix("payment."))
            return ProviderEvent(
                event_id=str(event["id"]),
                kind=kind,
                reference=str(data["reference"]),
                order_id=int(data["order_id"]),
                amount=int(data["amount"]),
                currency=str(data["currency"]) if data.get("currency") else None,
                merchant_id=str(data["merchant"]) if data.get("merchant") else None,
                refund_reference=data.get("refund_reference"),
            )
        except (ValueError, KeyError, TypeError):
            return None

    async def query(self, reference: str) -> ProviderEvent | None:
        """What the buyer last did on the hosted page, from the webhooks the sandbox queued for this checkout
        (delivered or not): paid or abandoned; None while they have done neither."""
        if self.db is None:
            return None
        from knowcast.commerce.models import OutboxMessage

        async with self.db.session() as session:
            bodies = await session.scalars(
                select(OutboxMessage.body)
                .where(
                    OutboxMessage.topic == "sandbox.webhook",
                    OutboxMessage.body.contains(f'"reference":{json.dumps(reference)}'),
                )
                .order_by(OutboxMessage.id.desc())
            )
            for body in bodies:
                event = json.loads(body)
                kind = EventKind(str(event["type"]).removeprefix("payment."))
                if kind in (EventKind.SUCCEEDED, EventKind.EXPIRED):
                    data = event["data"]
                    return ProviderEvent(
                        event_id=f"query:{reference}:{kind.value}",
                        kind=kind,
                        reference=reference,
                        order_id=int(data["order_id"]),
                        amount=int(data["amount"]),
                        currency=str(data["currency"]) if data.get("currency") else None,
                        merchant_id=MERCHANT,  # the sandbox's own books
                    )
        return None

    async def close_checkout(self, reference: str) -> None:
        """The hosted page refuses to pay a closed order by itself (payments.sandbox_act)."""

    async def refund(self, request: RefundRequest) -> RefundResult:
        """The sandbox holds no money: a refund always succeeds at once."""
        return RefundResult(request.refund_reference, "sbx_re_" + secrets.token_hex(8), done=True)

    async def statement(self, day: date) -> Statement:
        """The sandbox moves no money, so it has no statement to reconcile against."""
        raise Conflict("the sandbox keeps no statement to reconcile", code=CommerceCode.PAYMENT_NO_STATEMENT)
