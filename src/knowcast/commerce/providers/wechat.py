"""WeChat Pay (API v3) through the ``wechatpayv3`` SDK: Native (a QR code on desktop), H5 (a phone browser
outside WeChat) and JSAPI (inside WeChat's own browser, with the payer's openid from ``snsapi_base``).

- Orders carry our reference as ``out_trade_no``, the order id as ``attach`` and the order's hold as
  ``time_expire``, so WeChat Pay closes an unpaid trade by itself when the hold ends; Knowcast also closes it.
- Notifications (``TRANSACTION.SUCCESS``, ``REFUND.SUCCESS``) are verified by the SDK (RSA-SHA256 with the
  WeChat Pay public key, or the platform certificate it downloads) and their resource decrypted with the
  APIv3 key (AES-256-GCM); a timestamp more than five minutes off is refused, as WeChat Pay advises.
- Refunds are asynchronous: WeChat Pay answers PROCESSING and confirms with a ``REFUND.SUCCESS`` notification.
- The day's statement is the trade bill (bill_type ALL, GZIP), checked against its SHA1 and parsed from
  WeChat's CSV (every field starts with a backquote; amounts in yuan).

Every SDK call is synchronous (requests): it runs in a thread.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import hashlib
import io
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

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
from knowcast.commerce.providers.wechat_sdk import Credentials, GatewayClient
from knowcast.errors import ConfigError, Conflict, ServiceUnavailable, ValidationFailed
from knowcast.settings import Settings

log = logging.getLogger(__name__)
CST = timezone(timedelta(hours=8))  # WeChat Pay's times and bill days are China Standard Time
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
TOLERANCE = 300  # seconds a notification's timestamp may be off
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
PAID_STATES = {"SUCCESS", "REFUND"}  # REFUND: paid, then (partly) refunded
T = TypeVar("T")


def description_of(title: str) -> str:
    """WeChat Pay takes at most 127 bytes of description."""
    raw = title.encode()[:127]
    return raw.decode(errors="ignore") or "Knowcast"


def cst_time(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat(timespec="seconds")


def fen(value: str) -> int:
    """'12.30' yuan (as the bill writes it) → 1230 fen."""
    try:
        return int((Decimal(value.strip() or "0") * 100).to_integral_value())
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


class WechatProvider(PaymentProvider):
    name = "wechat"
    methods: tuple[PayMethod, ...] = (PayMethod.WECHAT_NATIVE, PayMethod.WECHAT_H5, PayMethod.WECHAT_JSAPI)
    reports_outcome = True

    def __init__(
        self, credentials: Credentials, notify_url: Callable[[], str] | None = None, *, jsapi: bool = True
    ) -> None:
        self.credentials = credentials
        if not jsapi:  # no Official Account secret: the payer's openid cannot be learnt, so no JSAPI
            self.methods = (PayMethod.WECHAT_NATIVE, PayMethod.WECHAT_H5)
        # read per call: where notifications go can change after start (the tests' loopback server)
        self.notify_url = notify_url or (lambda: credentials.notify_url)
        self.merchant_id = credentials.mchid
        self.app_id = credentials.appid
        self._client: GatewayClient | None = None
        self._lock = asyncio.Lock()

    # ---- plumbing ------------------------------------------------------------------------------------------

    async def client(self) -> GatewayClient:
        """Built on first use (in platform-certificate mode the SDK downloads the certificates right away)."""
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.to_thread(GatewayClient, self.credentials)
                except Exception as exc:
                    log.exception("WeChat Pay client could not start")
                    raise ServiceUnavailable(
                        f"WeChat Pay is not reachable or not configured correctly: {exc}",
                        code=CommerceCode.PAYMENT_PROVIDER_UNAVAILABLE,
                    ) from exc
            return self._client

    async def call(self, method: Callable[..., tuple[int, Any]], *args: Any, **kwargs: Any) -> tuple[int, Any]:
        """One SDK call in a thread: (HTTP status, body); transport or answer-signature failures become 503."""
        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except Exception as exc:
            log.warning("WeChat Pay call failed: %s", exc)
            raise ServiceUnavailable(
                f"WeChat Pay did not answer properly: {exc}", code=CommerceCode.PAYMENT_PROVIDER_UNAVAILABLE
            ) from exc

    @staticmethod
    def refused(status: int, body: Any, what: str) -> ServiceUnavailable:
        detail = _json(body)
        message = f"WeChat Pay refused {what}: {detail.get('code', status)} {detail.get('message', '')}".strip()
        return ServiceUnavailable(message, code=CommerceCode.PAYMENT_PROVIDER_ERROR)

    # ---- checkout ------------------------------------------------------------------------------------------

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        method = request.method or PayMethod.WECHAT_NATIVE
        if method not in self.methods:
            raise ValidationFailed(
                f"WeChat Pay does not offer {method.value}", code=CommerceCode.PAYMENT_METHOD_UNAVAILABLE
            )
        if request.currency.upper() != "CNY":
            raise ValidationFailed("WeChat Pay takes CNY only", code=CommerceCode.PAYMENT_CURRENCY_UNSUPPORTED)
        reference = request.reference or "kc" + secrets.token_hex(15)
        if not OUT_TRADE_NO.match(reference):
            raise ValidationFailed(
                f"not a WeChat Pay out_trade_no: {reference!r}", code=CommerceCode.PAYMENT_BAD_REFERENCE
            )
        if method is PayMethod.WECHAT_JSAPI and not request.openid:
            raise Conflict("paying inside WeChat needs the payer's openid", code=CommerceCode.PAYMENT_OPENID_REQUIRED)
        client = await self.client()
        pay_type, extra = self._method_fields(method, request)
        status, body = await self.call(
            client.pay,
            description=description_of(request.title),
            out_trade_no=reference,
            amount={"total": request.amount, "currency": "CNY"},
            time_expire=cst_time(request.expires_at) if request.expires_at else None,
            attach=str(request.order_id),
            notify_url=self.notify_url(),
            pay_type=pay_type,
            **extra,
        )
        if not 200 <= status < 300:
            raise self.refused(status, body, "the order")
        answer = _json(body)
        if method is PayMethod.WECHAT_NATIVE:
            return CheckoutSession(reference=reference, qr_code=str(answer["code_url"]))
        if method is PayMethod.WECHAT_H5:
            url = f"{answer['h5_url']}&redirect_url={quote(request.return_url, safe='')}"
            return CheckoutSession(reference=reference, url=url)
        return CheckoutSession(reference=reference, jsapi=self.jsapi_parameters(client, str(answer["prepay_id"])))

    @staticmethod
    def _method_fields(method: PayMethod, request: CheckoutRequest) -> tuple[Any, dict[str, Any]]:
        from wechatpayv3 import WeChatPayType

        if method is PayMethod.WECHAT_H5:
            scene = {"payer_client_ip": request.client_ip, "h5_info": {"type": "Wap"}}
            return WeChatPayType.H5, {"scene_info": scene}
        if method is PayMethod.WECHAT_JSAPI:
            return WeChatPayType.JSAPI, {"payer": {"openid": request.openid}}
        return WeChatPayType.NATIVE, {}

    def jsapi_parameters(self, client: GatewayClient, prepay_id: str) -> dict[str, str]:
        """getBrandWCPayRequest's parameters, paySign = RSA-SHA256 over appId, timeStamp, nonceStr, package."""
        stamp, nonce, package = str(int(time.time())), secrets.token_hex(16), f"prepay_id={prepay_id}"
        signature = client.sign([self.credentials.appid, stamp, nonce, package])
        return {
            "appId": self.credentials.appid,
            "timeStamp": stamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": str(signature),
        }

    # ---- notifications -------------------------------------------------------------------------------------

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent | None:
        lowered = {key.lower(): value for key, value in headers.items()}
        self._check_headers(lowered)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            if envelope.get("resource_type") != "encrypt-resource" or resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise ValueError("not an AEAD_AES_256_GCM resource")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookRejected(
                f"not a WeChat Pay notification: {exc}", code=CommerceCode.PAYMENT_BAD_PAYLOAD
            ) from exc
        lowered.setdefault("wechatpay-signature-type", SIGNATURE_TYPE)
        client = await self.client()
        try:
            result = await asyncio.to_thread(client.callback, lowered, body)
        except Exception as exc:  # the SDK raises plain Exception for algorithms it does not know
            raise WebhookRejected(
                f"WeChat Pay notification refused: {exc}", code=CommerceCode.PAYMENT_BAD_SIGNATURE
            ) from exc
        if not result:  # a signature that does not verify, or a resource the APIv3 key does not decrypt
            raise WebhookRejected(
                "the WeChat Pay signature or encrypted resource does not verify",
                code=CommerceCode.PAYMENT_BAD_SIGNATURE,
            )
        return self._event(str(envelope.get("id") or ""), str(envelope.get("event_type")), result["resource"])

    def _check_headers(self, headers: Mapping[str, str]) -> None:
        names = ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial")
        if not all(headers.get(name) for name in names):
            raise WebhookRejected(
                "the WeChat Pay signature headers are missing", code=CommerceCode.PAYMENT_BAD_SIGNATURE
            )
        if headers.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise WebhookRejected("unknown WeChat Pay signature type", code=CommerceCode.PAYMENT_BAD_SIGNATURE)
        try:
            stamp = int(headers["wechatpay-timestamp"])
        except ValueError:
            raise WebhookRejected("unreadable WeChat Pay timestamp", code=CommerceCode.PAYMENT_BAD_SIGNATURE) from None
        if abs(time.time() - stamp) > TOLERANCE:
            raise WebhookRejected("the WeChat Pay notification is too old", code=CommerceCode.PAYMENT_STALE_SIGNATURE)
        serial = headers["wechatpay-serial"]
        if self.credentials.public_key_id and serial != self.credentials.public_key_id:
            raise WebhookRejected(
                "signed with a key this merchant does not use", code=CommerceCode.PAYMENT_BAD_SIGNATURE
            )

    def _event(self, event_id: str, event_type: str, resource: Mapping[str, Any]) -> ProviderEvent | None:
        amount = resource.get("amount") or {}
        if event_type == "TRANSACTION.SUCCESS" and resource.get("trade_state") == "SUCCESS":
            return ProviderEvent(
                event_id=f"wechat:{event_id}",
                kind=EventKind.SUCCEEDED,
                reference=resource.get("out_trade_no"),
                order_id=_order_id(resource.get("attach")),
                amount=_int(amount.get("total")),
                currency=amount.get("currency"),
                merchant_id=resource.get("mchid"),
                app_id=resource.get("appid"),
                provider_trade_id=resource.get("transaction_id"),
            )
        if event_type == "REFUND.SUCCESS" and resource.get("refund_status") == "SUCCESS":
            return ProviderEvent(
                event_id=f"wechat:{event_id}",
                kind=EventKind.REFUNDED,
                reference=resource.get("out_trade_no"),
                order_id=None,
                amount=_int(amount.get("refund")),
                currency="CNY",  # refund notifications state no currency; WeChat Pay's domestic refunds are CNY
                merchant_id=resource.get("mchid"),
                app_id=None,  # refund notifications name no appid
                provider_trade_id=resource.get("transaction_id"),
                refund_reference=resource.get("out_refund_no"),
            )
        log.info("WeChat Pay notification not acted on", extra={"event_type": event_type})
        return None

    def answer(self, accepted: bool) -> NotificationAnswer:
        """WeChat Pay reads the status (2xx: received; otherwise it retries, 15 times over 24 h)."""
        if accepted:
            return NotificationAnswer(200, b'{"code":"SUCCESS","message":"\\u6210\\u529f"}', "application/json")
        return NotificationAnswer(400, b'{"code":"FAIL","message":"\\u5931\\u8d25"}', "application/json")

    # ---- query, close, refund ------------------------------------------------------------------------------

    async def query(self, reference: str) -> ProviderEvent | None:
        client = await self.client()
        status, body = await self.call(client.query, out_trade_no=reference)
        if status == 404:
            return None  # never created (or not yet): nothing was paid
        if not 200 <= status < 300:
            raise self.refused(status, body, "the query")
        trade = _json(body)
        state = str(trade.get("trade_state"))
        amount = trade.get("amount") or {}
        kind = EventKind.SUCCEEDED if state in PAID_STATES else None
        kind = kind or {"CLOSED": EventKind.EXPIRED, "REVOKED": EventKind.EXPIRED, "PAYERROR": EventKind.FAILED}.get(
            state
        )
        if kind is None:
            return None  # NOTPAY, USERPAYING: not yet
        return ProviderEvent(
            event_id=f"query:{reference}:{kind.value}",
            kind=kind,
            reference=reference,
            order_id=_order_id(trade.get("attach")),
            amount=_int(amount.get("total")),
            currency=amount.get("currency"),
            merchant_id=trade.get("mchid"),
            app_id=trade.get("appid"),
            provider_trade_id=trade.get("transaction_id"),
        )

    async def close_checkout(self, reference: str) -> None:
        client = await self.client()
        status, body = await self.call(client.close, out_trade_no=reference)
        if 200 <= status < 300:
            return
        code = _json(body).get("code")
        if code == "ORDERPAID":
            raise Conflict(
                "the WeChat Pay trade was paid before it could be closed", code=CommerceCode.PAYMENT_ALREADY_PAID
            )
        if code == "ORDER_NOT_EXIST":
            return  # never reached WeChat Pay: nothing to close
        raise self.refused(status, body, "to close the trade")

    async def refund(self, request: RefundRequest) -> RefundResult:
        client = await self.client()
        status, body = await self.call(
            client.refund,
            out_refund_no=request.refund_reference,
            amount={"refund": request.amount, "total": request.total, "currency": "CNY"},
            out_trade_no=request.reference,
            reason=request.reason[:80] or None,
            notify_url=self.notify_url(),
        )
        answer = _json(body)
        if status == 403 and answer.get("code") == "NOT_ENOUGH":
            raise Conflict("more than what is left to refund", code=CommerceCode.PAYMENT_REFUND_EXCEEDS)
        if not 200 <= status < 300:
            raise self.refused(status, body, "the refund")
        refund_status = answer.get("status")
        if refund_status in ("ABNORMAL", "CLOSED"):
            raise Conflict(f"WeChat Pay could not refund ({refund_status})", code=CommerceCode.PAYMENT_REFUND_FAILED)
        return RefundResult(
            refund_reference=request.refund_reference,
            provider_refund_id=answer.get("refund_id"),
            done=refund_status == "SUCCESS",
        )

    # ---- statement -----------------------------------------------------------------------------------------

    async def statement(self, day: date) -> Statement:
        client = await self.client()
        status, body = await self.call(client.trade_bill, bill_date=day.isoformat(), bill_type="ALL", tar_type="GZIP")
        if status == 400 and _json(body).get("code") == "NO_STATEMENT_EXIST":
            return Statement(day=day)  # no trade that day
        if not 200 <= status < 300:
            raise self.refused(status, body, "the trade bill")
        meta = _json(body)
        status, content = await self.call(client.download_bill, str(meta["download_url"]))
        if not 200 <= status < 300 or not isinstance(content, bytes):
            raise self.refused(status, content, "the bill download")
        text = gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content
        expected = str(meta.get("hash_value", "")).lower()
        if meta.get("hash_type") == "SHA1" and hashlib.sha1(text, usedforsecurity=False).hexdigest() != expected:
            raise ServiceUnavailable(
                "the WeChat Pay bill does not match its SHA1", code=CommerceCode.PAYMENT_BILL_CORRUPT
            )
        return Statement(day=day, lines=parse_bill(text.decode("utf-8-sig")))


def notify_url_of(settings: Settings) -> str:
    """The notification URL to register with WeChat Pay (sent with every order and refund)."""
    return f"{(settings.payment_webhook_url or settings.public_url).rstrip('/')}/api/v1/payments/wechat/webhook"


def from_settings(settings: Settings) -> WechatProvider:
    """The provider from KNOWCAST_WECHAT_*; a missing or unreadable setting stops the start with its name."""
    required = ("wechat_mchid", "wechat_appid", "wechat_apiv3_key", "wechat_private_key_path", "wechat_cert_serial_no")
    missing = [f"KNOWCAST_{name.upper()}" for name in required if not getattr(settings, name)]
    if missing:
        raise ConfigError(f"WeChat Pay is enabled in KNOWCAST_PAYMENT_PROVIDERS but {', '.join(missing)} not set")
    if len(settings.wechat_apiv3_key or "") != 32:
        raise ConfigError("KNOWCAST_WECHAT_APIV3_KEY must be the 32-character APIv3 key from the merchant platform")
    if (settings.wechat_public_key_path is None) != (settings.wechat_public_key_id is None):
        raise ConfigError("set both KNOWCAST_WECHAT_PUBLIC_KEY_PATH and KNOWCAST_WECHAT_PUBLIC_KEY_ID, or neither")
    credentials = Credentials(
        mchid=str(settings.wechat_mchid),
        appid=str(settings.wechat_appid),
        apiv3_key=str(settings.wechat_apiv3_key),
        private_key=_read("KNOWCAST_WECHAT_PRIVATE_KEY_PATH", settings.wechat_private_key_path) or "",
        cert_serial_no=str(settings.wechat_cert_serial_no),
        public_key=_read("KNOWCAST_WECHAT_PUBLIC_KEY_PATH", settings.wechat_public_key_path),
        public_key_id=settings.wechat_public_key_id,
        cert_dir=str(settings.data_dir / "wechatpay"),
        gateway=settings.wechat_api_base,
        notify_url=notify_url_of(settings),
    )
    return WechatProvider(credentials, lambda: notify_url_of(settings), jsapi=bool(settings.wechat_app_secret))


def _read(setting: str, path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from exc


def parse_bill(text: str) -> list[StatementLine]:
    """WeChat Pay's trade bill: a header row, data rows whose fields start with '`', then two summary rows."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [name.strip() for name in rows[0]]
    lines: list[StatementLine] = []
    for raw in rows[1:]:
        if not raw or raw[0].strip().startswith("总交易单数"):
            break
        row = dict(zip(header, (value.strip().removeprefix("`") for value in raw), strict=False))
        line = _bill_line(row)
        if line is not None:
            lines.append(line)
    return lines


def _bill_line(row: Mapping[str, str]) -> StatementLine | None:
    at = datetime.strptime(row["交易时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST).astimezone(UTC)
    currency = row.get("货币种类") or "CNY"
    trade_id = row.get("微信订单号") or None
    state = row.get("交易状态")
    if state == "SUCCESS":
        amount = fen(row.get("订单金额") or row.get("应结订单金额") or "0")
        return StatementLine(row["商户订单号"], "payment", amount, currency, at, trade_id)
    if state == "REFUND":
        amount = fen(row.get("申请退款金额") or row.get("退款金额") or "0")
        refund_no = row.get("商户退款单号") or None
        return StatementLine(row["商户订单号"], "refund", amount, currency, at, trade_id, refund_no)
    return None  # REVOKED and the like move no money


def _json(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        value = json.loads(body) if body else {}
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).lstrip("-").isdigit() else None


def _order_id(attach: Any) -> int | None:
    return int(attach) if isinstance(attach, str) and attach.isdigit() else None
