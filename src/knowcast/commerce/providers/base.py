"""The one interface every payment provider implements; subclasses only do the provider's I/O.

Providers are sync SDKs underneath (wechatpayv3, python-alipay-sdk, stripe): they are called through
asyncio.to_thread. A provider never touches the database: commerce/payments.py does (it makes the reference,
checks every event against the order, applies it once, and audits what it refuses).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from knowcast.commerce.errors import CommerceCode
from knowcast.errors import PermissionDenied


class EventKind(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"  # a refund (full or partial: see ProviderEvent.amount) has gone through
    EXPIRED = "expired"  # the checkout was abandoned, closed or timed out without payment


class PayMethod(enum.StrEnum):
    """How the buyer pays; each provider offers some (PaymentProvider.methods)."""

    SANDBOX = "sandbox"  # the built-in hosted checkout page
    CARD = "card"  # Stripe Checkout
    WECHAT_NATIVE = "wechat_native"  # desktop: a QR code the buyer scans with WeChat
    WECHAT_H5 = "wechat_h5"  # a phone browser outside WeChat: redirect to WeChat's h5_url
    WECHAT_JSAPI = "wechat_jsapi"  # inside WeChat's own browser: WeixinJSBridge with the payer's openid
    ALIPAY_PAGE = "alipay_page"  # desktop: alipay.trade.page.pay
    ALIPAY_WAP = "alipay_wap"  # phone: alipay.trade.wap.pay


@dataclass(frozen=True)
class CheckoutRequest:
    order_id: int
    amount: int  # minor units (fen)
    currency: str  # ISO 4217, e.g. "CNY"
    title: str
    return_url: str  # where the buyer lands after paying (or not)
    method: PayMethod | None = None  # None: the provider's first method
    reference: str = ""  # our id for this attempt (out_trade_no), made by payments.py, unique per payment
    client_ip: str = "127.0.0.1"  # WeChat H5 needs the payer's address
    openid: str | None = None  # WeChat JSAPI: the payer's openid from snsapi_base authorization
    expires_at: datetime | None = None  # the order's hold: the provider closes the trade then (time_expire)


@dataclass(frozen=True)
class CheckoutSession:
    reference: str  # our id for this checkout (= CheckoutRequest.reference when given)
    url: str = ""  # where the buyer is sent (H5, page/wap pay, sandbox page, Stripe); "" when not redirecting
    qr_code: str | None = None  # text to show as a QR code (WeChat Native code_url), polled until paid
    jsapi: Mapping[str, str] | None = None  # WeixinJSBridge getBrandWCPayRequest parameters (signed)


@dataclass(frozen=True)
class ProviderEvent:
    """A verified notification (or a query's answer), reduced to what the order needs."""

    event_id: str  # unique per provider event (a notification id, or "query:<reference>:<state>")
    kind: EventKind
    reference: str | None  # our out_trade_no / checkout reference
    order_id: int | None
    amount: int | None = None  # paid total for SUCCEEDED; this refund's amount for REFUNDED
    currency: str | None = None
    merchant_id: str | None = None  # mchid / seller_id as the provider states it
    app_id: str | None = None  # appid / app_id as the provider states it
    provider_trade_id: str | None = None  # transaction_id / trade_no / payment_intent
    refund_reference: str | None = None  # our out_refund_no for REFUNDED


class WebhookRejected(PermissionDenied):
    code = CommerceCode.PAYMENT_BAD_SIGNATURE


@dataclass(frozen=True)
class NotificationAnswer:
    """What the provider expects back from our notification endpoint."""

    status_code: int
    body: bytes
    media_type: str


@dataclass(frozen=True)
class RefundRequest:
    reference: str  # the payment's reference (out_trade_no)
    refund_reference: str  # our id for this refund (out_refund_no), unique
    amount: int  # this refund
    total: int  # what the buyer paid for the whole payment
    currency: str
    reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    refund_reference: str
    provider_refund_id: str | None
    done: bool  # True: money is back now; False: the provider confirms later (a REFUNDED notification)


@dataclass(frozen=True)
class StatementLine:
    """One line of the provider's statement for a day (reconciliation)."""

    reference: str  # our out_trade_no
    kind: str  # "payment" | "refund"
    amount: int  # minor units, always positive
    currency: str
    at: datetime  # timezone-aware
    provider_trade_id: str | None = None
    refund_reference: str | None = None


@dataclass(frozen=True)
class Statement:
    day: date
    lines: list[StatementLine] = field(default_factory=list)


class PaymentProvider:
    name = "base"
    methods: tuple[PayMethod, ...] = ()
    merchant_id: str | None = None  # notifications must name this merchant (None: provider has no such field)
    app_id: str | None = None  # ... and this app
    statement_timezone = "Asia/Shanghai"  # the zone of statement days (WeChat Pay, Alipay); Stripe: UTC
    reports_outcome = False  # the notification answer carries what happened ("paid", "stale"...), for tests/logs

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise NotImplementedError

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent | None:
        """Check the signature (and decrypt) and parse the event; None for an event kind we do not act on.

        Raises WebhookRejected for a missing, forged or stale signature.
        """
        raise NotImplementedError

    def answer(self, accepted: bool) -> NotificationAnswer:
        """The reply the provider expects (WeChat: JSON code SUCCESS/FAIL; Alipay: plain 'success'/'fail').

        The default (sandbox, Stripe) is JSON; the webhook route adds what happened as ``result`` to a JSON
        answer whose provider sets ``reports_outcome``."""
        body = json.dumps({"accepted": accepted}).encode()
        return NotificationAnswer(200 if accepted else 400, body, "application/json")

    async def query(self, reference: str) -> ProviderEvent | None:
        """Ask the provider what became of a checkout (a notification that never came); None while unpaid."""
        raise NotImplementedError

    async def close_checkout(self, reference: str) -> None:
        """Close an unpaid trade at the provider (the order expired) so it can no longer be paid."""
        raise NotImplementedError

    async def refund(self, request: RefundRequest) -> RefundResult:
        raise NotImplementedError

    async def statement(self, day: date) -> Statement:
        """The provider's statement of the day (China Standard Time day for WeChat/Alipay), for reconciliation."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections."""
