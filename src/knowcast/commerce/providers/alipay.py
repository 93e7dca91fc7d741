"""Alipay (支付宝开放平台) through ``python-alipay-sdk``: page pay on desktop, wap pay on phones.

The SDK signs every request with the app's private key (RSA2: SHA256withRSA over the sorted ``key=value``
pairs) and checks every answer against Alipay's public key; this module only chooses what to ask and reads
the answers. Calls are synchronous in the SDK, so they run in a thread.

- Checkout: ``alipay.trade.page.pay`` / ``alipay.trade.wap.pay`` are "client" APIs: the signed request is a
  URL on Alipay's gateway that the buyer's browser opens (the cashier). ``time_expire`` carries the order's
  hold, so Alipay itself refuses to take money for an order whose stock went back.
- Notifications: Alipay POSTs a form (``notify_type=trade_status_sync``) to the registered URL, signed with
  Alipay's key over every field but ``sign`` and ``sign_type``; it retries until the answer is ``success``.
  A refund produces one too (``refund_fee``, ``out_biz_no``, and ``TRADE_CLOSED`` once fully refunded).
- ``alipay.trade.query`` / ``close`` / ``refund`` / ``fastpay.refund.query`` and the daily trade bill
  (``alipay.data.dataservice.bill.downloadurl.query``: a zip of GBK CSV files) are "server" APIs.

The gateway is a setting (``KNOWCAST_ALIPAY_GATEWAY``): Alipay's live gateway by default, its sandbox, or a
local simulator in the tests. The SDK has no argument for it (only ``debug=True`` for the sandbox), so
``GatewayAliPay`` is the SDK's client with the gateway given at construction.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import logging
import zipfile
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.providers.base import (
    CheckoutRequest,
    CheckoutSession,
    EventKind,
    NotificationAnswer,
    PaymentProvider,
    PayMethod,
    ProviderEvent,
    RefundRequest,
    RefundResult,
    Statement,
    StatementLine,
    WebhookRejected,
)
from knowcast.errors import ConfigError, Conflict, ErrorCode, ServiceUnavailable, ValidationFailed
from knowcast.money import decimal
from knowcast.settings import Settings

log = logging.getLogger(__name__)

LIVE_GATEWAY = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
CST = timezone(timedelta(hours=8), "CST")  # Alipay's clock: every time it sends or reads is Beijing time
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PRODUCT_CODES = {PayMethod.ALIPAY_PAGE: "FAST_INSTANT_TRADE_PAY", PayMethod.ALIPAY_WAP: "QUICK_WAP_WAY"}
API_NAMES = {PayMethod.ALIPAY_PAGE: "alipay.trade.page.pay", PayMethod.ALIPAY_WAP: "alipay.trade.wap.pay"}
PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
SUCCESS_CODE = "10000"
BILL_HEADER = "支付宝交易号"


class GatewayAliPay(AliPay):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's client, talking to the gateway it is given (live, sandbox, or a simulator)."""

    def __init__(self, *, gateway: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gateway = gateway

    @property
    def gateway(self) -> str:
        return str(self._gateway)

    def build_body(self, method: str, biz_content: Any = None, **kwargs: Any) -> dict[str, Any]:
        """The SDK stamps requests with the server's local time; Alipay reads Beijing time."""
        data: dict[str, Any] = super().build_body(method, biz_content, **kwargs)
        data["timestamp"] = datetime.now(CST).strftime(TIME_FORMAT)
        return data


def pem_or_der(key: str, kind: str) -> str | bytes:
    """A key as the merchant has it: PEM text, a path to a PEM file, or the bare base64 that Alipay's key
    tool and the open platform's console show (DER inside), which the SDK reads once decoded."""
    text = key.strip()
    if "-----BEGIN" in text:
        return text
    if len(text) < 512 and Path(text).is_file():
        return Path(text).read_text(encoding="utf-8")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:
        raise ConfigError(f"{kind} is neither PEM, a key file nor base64", code=ErrorCode.CONFIG_INVALID) from None


def fen(amount: str | None) -> int | None:
    """Alipay's "12.30" as 1230; None for a missing or unreadable amount."""
    try:
        value = Decimal(str(amount).strip()) * 100
    except (InvalidOperation, ValueError):
        return None
    if amount is None or value != value.to_integral_value():
        return None
    return int(value)


def subject(title: str) -> str:
    """Alipay refuses a subject with "/", "=" or "&" in it (and one longer than 256 characters)."""
    cleaned = " ".join(title.translate(str.maketrans("/=&", "   ")).split())
    return cleaned[:256] or "Knowcast"


def cst_time(moment: datetime) -> str:
    return moment.astimezone(CST).strftime(TIME_FORMAT)


def parse_cst(text: str) -> datetime:
    return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=CST).astimezone(UTC)


class AlipayProvider(PaymentProvider):
    name = "alipay"
    methods = (PayMethod.ALIPAY_WAP, PayMethod.ALIPAY_PAGE)

    def __init__(
        self,
        *,
        app_id: str,
        app_private_key: str,
        alipay_public_key: str,
        seller_id: str | None,
        notify_url: str,
        gateway: str = LIVE_GATEWAY,
        timeout: float = 15,
    ) -> None:
        self.app_id = app_id
        self.merchant_id = seller_id  # the PID (2088...): every notification names it as seller_id
        self.notify_url = notify_url
        try:
            self.client = GatewayAliPay(
                gateway=gateway,
                appid=app_id,
                app_notify_url=notify_url,
                app_private_key_string=pem_or_der(app_private_key, "KNOWCAST_ALIPAY_APP_PRIVATE_KEY"),
                alipay_public_key_string=pem_or_der(alipay_public_key, "KNOWCAST_ALIPAY_PUBLIC_KEY"),
                sign_type="RSA2",
                config=AliPayConfig(timeout=timeout),
            )
        except (ValueError, IndexError, TypeError) as exc:
            raise ConfigError(f"an Alipay key cannot be read: {exc}", code=ErrorCode.CONFIG_INVALID) from exc
        self.http = httpx.AsyncClient(timeout=timeout)

    # ---- checkout -----------------------------------------------------------------------------------------

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        method = request.method or self.methods[0]
        if method not in self.methods:
            raise ValidationFailed(
                f"Alipay does not offer {method.value}", code=CommerceCode.PAYMENT_METHOD_UNAVAILABLE
            )
        if request.currency.upper() != "CNY":
            raise ValidationFailed("Alipay takes payments in CNY only", code=CommerceCode.PAYMENT_CURRENCY_UNSUPPORTED)
        if not request.reference:
            raise ValidationFailed("an Alipay checkout needs our reference", code=CommerceCode.PAYMENT_NO_REFERENCE)
        biz: dict[str, Any] = {
            "out_trade_no": request.reference,
            "total_amount": decimal(request.amount),
            "subject": subject(request.title),
            "product_code": PRODUCT_CODES[method],
            "passback_params": str(request.order_id),
        }
        if request.expires_at is not None:
            biz["time_expire"] = cst_time(request.expires_at)
        if method is PayMethod.ALIPAY_WAP:
            biz["quit_url"] = request.return_url  # the cashier's "back" goes home, not into the void
        query = self.client.client_api(API_NAMES[method], biz_content=biz, return_url=request.return_url)
        return CheckoutSession(reference=request.reference, url=f"{self.client.gateway}?{query}")

    # ---- notifications ------------------------------------------------------------------------------------

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent | None:
        fields = self._signed_form(body)
        status = fields.get("trade_status", "")
        reference = fields.get("out_trade_no") or None
        common: dict[str, Any] = {
            "reference": reference,
            "order_id": _order_id(fields.get("passback_params")),
            "currency": "CNY",
            "merchant_id": fields.get("seller_id") or None,
            "app_id": fields.get("app_id") or None,
            "provider_trade_id": fields.get("trade_no") or None,
        }
        notify_id = fields.get("notify_id")
        if not notify_id or reference is None:
            raise WebhookRejected(
                "the notification names no notify_id or out_trade_no", code=CommerceCode.PAYMENT_BAD_NOTIFICATION
            )
        if fields.get("out_biz_no") and fen(fields.get("refund_fee")):
            return await self._refund_event(notify_id, fields, common)
        if status in PAID:
            amount = fen(fields.get("total_amount"))
            if amount is None:
                raise WebhookRejected(
                    "the notification's total_amount is unreadable", code=CommerceCode.PAYMENT_BAD_NOTIFICATION
                )
            return ProviderEvent(event_id=notify_id, kind=EventKind.SUCCEEDED, amount=amount, **common)
        if status == "TRADE_CLOSED":
            return ProviderEvent(event_id=notify_id, kind=EventKind.EXPIRED, **common)
        return None  # WAIT_BUYER_PAY and anything new: nothing for the order to do

    def _signed_form(self, body: bytes) -> dict[str, str]:
        """The notification's fields once Alipay's RSA2 signature over them holds."""
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected(
                "the notification is not a form", code=CommerceCode.PAYMENT_BAD_NOTIFICATION
            ) from None
        fields = dict(pairs)
        signature = fields.pop("sign", "")
        if not signature or len(fields) != len(pairs) - 1:
            raise WebhookRejected(
                "the notification is unsigned or repeats a field", code=CommerceCode.PAYMENT_BAD_SIGNATURE
            )
        if fields.get("sign_type", "RSA2") != "RSA2":
            raise WebhookRejected("only RSA2 notifications are accepted", code=CommerceCode.PAYMENT_BAD_SIGNATURE)
        try:
            valid = self.client.verify(dict(fields), signature)
        except Exception:  # a signature that is not even base64 / of the wrong length
            valid = False
        if not valid:
            raise WebhookRejected("Alipay's signature does not match", code=CommerceCode.PAYMENT_BAD_SIGNATURE)
        return fields

    async def _refund_event(self, notify_id: str, fields: dict[str, str], common: dict[str, Any]) -> ProviderEvent:
        """A refund's notification states only the trade's refunded total: ask Alipay for this refund's amount."""
        refund_reference = fields["out_biz_no"]
        answer = await self._server(
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": common["reference"], "out_request_no": refund_reference},
        )
        if not _refund_done(answer):
            raise WebhookRejected("Alipay does not know this refund", code=CommerceCode.PAYMENT_BAD_NOTIFICATION)
        return ProviderEvent(
            event_id=notify_id,
            kind=EventKind.REFUNDED,
            amount=fen(answer.get("refund_amount")),
            refund_reference=refund_reference,
            **common,
        )

    def answer(self, accepted: bool) -> NotificationAnswer:
        """Alipay stops retrying when the body is exactly ``success``."""
        return NotificationAnswer(200, b"success" if accepted else b"fail", "text/plain")

    # ---- server APIs --------------------------------------------------------------------------------------

    async def _server(self, api: str, biz: dict[str, Any]) -> dict[str, Any]:
        """One signed call; the answer's signature is checked by the SDK. Business refusals come back as a
        dict with ``code`` != 10000 and a ``sub_code``; a gateway that cannot be reached or answers unsigned
        is ServiceUnavailable."""
        try:
            answer = await asyncio.to_thread(self.client.server_api, api, biz)
        except AliPayValidationError as exc:
            raise ServiceUnavailable(
                f"{api}: Alipay's answer is not signed by Alipay", code=CommerceCode.PAYMENT_PROVIDER_FORGED
            ) from exc
        except AliPayException as exc:
            raise ServiceUnavailable(f"{api}: Alipay refused: {exc}", code=CommerceCode.PAYMENT_PROVIDER_ERROR) from exc
        except (OSError, ValueError) as exc:  # URLError, timeouts, an answer that is not JSON
            raise ServiceUnavailable(
                f"{api}: Alipay cannot be reached: {exc}", code=CommerceCode.PAYMENT_PROVIDER_UNAVAILABLE
            ) from exc
        return dict(answer)

    async def query(self, reference: str) -> ProviderEvent | None:
        answer = await self._server("alipay.trade.query", {"out_trade_no": reference})
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None  # the buyer never opened the cashier
            raise ServiceUnavailable(_refusal("alipay.trade.query", answer), code=CommerceCode.PAYMENT_PROVIDER_ERROR)
        status = str(answer.get("trade_status", ""))
        # the answer is signed by Alipay and only ever speaks of our own app's trades
        common: dict[str, Any] = {
            "reference": reference,
            "order_id": None,
            "currency": "CNY",
            "merchant_id": self.merchant_id,
            "app_id": self.app_id,
            "provider_trade_id": answer.get("trade_no") or None,
        }
        if status in PAID or (status == "TRADE_CLOSED" and answer.get("send_pay_date")):
            amount = fen(answer.get("total_amount"))
            return ProviderEvent(
                event_id=f"query:{reference}:succeeded", kind=EventKind.SUCCEEDED, amount=amount, **common
            )
        if status == "TRADE_CLOSED":
            return ProviderEvent(event_id=f"query:{reference}:expired", kind=EventKind.EXPIRED, **common)
        return None  # WAIT_BUYER_PAY

    async def close_checkout(self, reference: str) -> None:
        answer = await self._server("alipay.trade.close", {"out_trade_no": reference})
        if answer.get("code") == SUCCESS_CODE or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return  # closed; or never opened, and time_expire keeps it from being paid later
        if answer.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            state = await self.query(reference)
            if state is None or state.kind is EventKind.EXPIRED:
                return
            raise Conflict("the buyer paid before the trade could be closed", code=CommerceCode.PAYMENT_ALREADY_PAID)
        raise ServiceUnavailable(_refusal("alipay.trade.close", answer), code=CommerceCode.PAYMENT_PROVIDER_ERROR)

    async def refund(self, request: RefundRequest) -> RefundResult:
        biz: dict[str, Any] = {
            "out_trade_no": request.reference,
            "refund_amount": decimal(request.amount),
            "out_request_no": request.refund_reference,  # the same number again is the same refund, not a second
        }
        if request.reason:
            biz["refund_reason"] = request.reason[:256]
        answer = await self._server("alipay.trade.refund", biz)
        if answer.get("code") != SUCCESS_CODE:
            raise Conflict(_refusal("alipay.trade.refund", answer), code=CommerceCode.PAYMENT_REFUND_REFUSED)
        done = answer.get("fund_change") == "Y"
        if not done:  # "N": this request number was refunded before (a retry), or Alipay is still at it
            check = await self._server(
                "alipay.trade.fastpay.refund.query",
                {"out_trade_no": request.reference, "out_request_no": request.refund_reference},
            )
            done = _refund_done(check)
        return RefundResult(request.refund_reference, answer.get("trade_no") or None, done)

    # ---- the daily bill -----------------------------------------------------------------------------------

    async def statement(self, day: date) -> Statement:
        answer = await self._server(
            "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": day.isoformat()}
        )
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "isp.bill_not_exist":
                return Statement(day=day)  # no trade that day
            raise ServiceUnavailable(_refusal("the bill", answer), code=CommerceCode.PAYMENT_STATEMENT_UNAVAILABLE)
        try:
            response = await self.http.get(str(answer["bill_download_url"]))
            response.raise_for_status()
        except (httpx.HTTPError, KeyError) as exc:
            raise ServiceUnavailable(
                f"the Alipay bill cannot be downloaded: {exc}", code=CommerceCode.PAYMENT_STATEMENT_UNAVAILABLE
            ) from exc
        return Statement(day=day, lines=bill_lines(response.content))

    async def close(self) -> None:
        await self.http.aclose()


def _order_id(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _refund_done(answer: Mapping[str, Any]) -> bool:
    """Alipay's refund query: a refund that exists has a refund_amount; refund_status is empty or REFUND_SUCCESS
    once the money is back (an answer with no refund data means there is no such refund)."""
    status = answer.get("refund_status") or "REFUND_SUCCESS"
    return answer.get("code") == SUCCESS_CODE and bool(answer.get("refund_amount")) and status == "REFUND_SUCCESS"


def _refusal(what: str, answer: Mapping[str, Any]) -> str:
    detail = answer.get("sub_msg") or answer.get("msg") or "no reason given"
    return f"{what}: Alipay says {answer.get('sub_code') or answer.get('code')}: {detail}"


def bill_lines(archive: bytes) -> list[StatementLine]:
    """The trade lines of Alipay's daily bill: a zip holding ``<pid>_<yyyymmdd>_业务明细.csv`` (and its
    summary, ``..._业务明细(汇总).csv``), GBK, ``#`` comment lines around one header and the rows; Alipay pads
    numbers with a tab so that spreadsheets keep them as text."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bill:
            # found by content: Alipay names the files in GBK without zip's UTF-8 flag, so names are unreliable
            texts = [bill.read(info).decode("gb18030") for info in bill.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ServiceUnavailable(
            f"the Alipay bill is unreadable: {exc}", code=CommerceCode.PAYMENT_STATEMENT_UNREADABLE
        ) from exc
    details = [text for text in texts if any(line.startswith(BILL_HEADER) for line in text.splitlines())]
    if len(details) != 1:
        raise ServiceUnavailable("the Alipay bill has no detail file", code=CommerceCode.PAYMENT_STATEMENT_UNREADABLE)
    rows = [line for line in details[0].splitlines() if line.strip() and not line.startswith("#")]
    lines = []
    for record in csv.DictReader(rows, skipinitialspace=True):
        row = {key.strip(): (value or "").strip() for key, value in record.items() if key}
        line = _bill_line(row)
        if line is not None:
            lines.append(line)
    return lines


def _bill_line(row: dict[str, str]) -> StatementLine | None:
    kind = {"交易": "payment", "退款": "refund"}.get(row.get("业务类型", ""))
    amount = fen(row.get("订单金额（元）"))
    if kind is None or amount is None or not row.get("商户订单号"):
        return None
    return StatementLine(
        reference=row["商户订单号"],
        kind=kind,
        amount=abs(amount),  # refund lines are negative
        currency="CNY",
        at=parse_cst(row.get("完成时间") or row["创建时间"]),
        provider_trade_id=row.get("支付宝交易号") or None,
        refund_reference=(row.get("退款批次号/请求号") or None) if kind == "refund" else None,
    )


def from_settings(settings: Settings) -> AlipayProvider:
    """The provider as KNOWCAST_ALIPAY_* configure it. Alipay notifies
    ``<KNOWCAST_PAYMENT_WEBHOOK_URL or KNOWCAST_PUBLIC_URL>/api/v1/payments/alipay/webhook``."""
    needed = {
        "KNOWCAST_ALIPAY_APP_ID": settings.alipay_app_id,
        "KNOWCAST_ALIPAY_APP_PRIVATE_KEY": settings.alipay_app_private_key,
        "KNOWCAST_ALIPAY_PUBLIC_KEY": settings.alipay_public_key,
        "KNOWCAST_ALIPAY_SELLER_ID": settings.alipay_seller_id,
    }
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise ConfigError(f"Alipay is enabled but {', '.join(missing)} is not set (docs/payments.md)")
    base = (settings.payment_webhook_url or settings.public_url).rstrip("/")
    return AlipayProvider(
        app_id=str(settings.alipay_app_id),
        app_private_key=str(settings.alipay_app_private_key),
        alipay_public_key=str(settings.alipay_public_key),
        seller_id=settings.alipay_seller_id,
        notify_url=f"{base}/api/v1/payments/alipay/webhook",
        gateway=settings.alipay_gateway,
    )
