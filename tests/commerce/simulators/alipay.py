"""A local Alipay open-platform gateway (openapi.alipay.com/gateway.do) for the tests: the endpoints Knowcast
calls, the buyer's cashier, asynchronous notifications, the synchronous return and the daily trade bill.

It is written from Alipay's documentation, not from the SDK, and checks signatures with ``cryptography``
(the SDK uses ``pycryptodomex``), so the two sides of every signature are independent implementations:

- requests: every parameter but ``sign`` and the empty ones, sorted, ``k=v`` joined by ``&``, SHA256withRSA
  with the app's private key (RSA2); checked here with the app public key the test hands over;
- answers: ``{"<method>_response": {...}, "sign": "..."}`` where ``sign`` covers the exact JSON text of the
  response object, signed with an Alipay key this simulator generates;
- notifications: a form POST; every field but ``sign`` and ``sign_type``, sorted and joined, signed with the
  same Alipay key. Knowcast must answer ``success`` or it is sent again (Alipay: 8 times over 25 hours; here a
  few times at once).

Trade states follow Alipay: WAIT_BUYER_PAY once the cashier is shown, TRADE_SUCCESS once paid (refundable),
TRADE_CLOSED when closed unpaid, expired, or fully refunded. Money is kept in fen.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import html
import io
import json
import secrets
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

CST = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PRODUCT_CODES = {"alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY", "alipay.trade.wap.pay": "QUICK_WAP_WAY"}
BILL_COLUMNS = [
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称", "操作员",
    "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）",
    "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号",
    "服务费（元）", "分润（元）", "备注",
]  # fmt: skip


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign_content(params: Mapping[str, str], *, notification: bool = False) -> str:
    """Alipay's string to sign. Requests drop ``sign`` and empty values; notifications drop ``sign`` and
    ``sign_type`` and keep everything else."""
    dropped = {"sign", "sign_type"} if notification else {"sign"}
    kept = {k: v for k, v in params.items() if k not in dropped and (notification or v != "")}
    return "&".join(f"{k}={kept[k]}" for k in sorted(kept))


def rsa2_sign(key: rsa.RSAPrivateKey, content: str) -> str:
    return base64.b64encode(key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_valid(public: rsa.RSAPublicKey, content: str, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature), content.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def to_fen(text: Any) -> int | None:
    try:
        value = Decimal(str(text)) * 100
    except (InvalidOperation, ValueError):
        return None
    return int(value) if value == value.to_integral_value() else None


def cst(moment: datetime) -> str:
    return moment.astimezone(CST).strftime(TIME_FORMAT)


class Refused(Exception):
    """A business refusal: Alipay answers code 40004 with this sub_code."""

    def __init__(self, sub_code: str, sub_msg: str, code: str = "40004", msg: str = "Business Failed") -> None:
        super().__init__(sub_msg)
        self.body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


@dataclass
class Refund:
    out_request_no: str
    amount: int
    at: datetime


@dataclass
class Trade:
    out_trade_no: str
    method: str
    subject: str
    total: int
    notify_url: str
    return_url: str
    passback: str
    time_expire: datetime | None
    trade_no: str = field(default_factory=lambda: datetime.now(CST).strftime("%Y%m%d") + "22001" + secrets.token_hex(7))
    status: str = "WAIT_BUYER_PAY"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    paid_at: datetime | None = None
    refunds: dict[str, Refund] = field(default_factory=dict)

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds.values())


@dataclass
class Notification:
    fields: dict[str, str]
    answers: list[str] = field(default_factory=list)  # what Knowcast answered, per delivery

    @property
    def body(self) -> bytes:
        return urlencode(self.fields).encode()


class AlipaySimulator:
    """One merchant (``seller_id``) with one app (``app_id``), whose public key the test passes in."""

    def __init__(self, *, app_id: str, seller_id: str, app_public_key: str) -> None:
        self.app_id = app_id
        self.seller_id = seller_id
        loaded = serialization.load_pem_public_key(app_public_key.encode())
        assert isinstance(loaded, rsa.RSAPublicKey)
        self.app_public_key = loaded
        self.key = new_key()  # Alipay's own key pair: Knowcast is configured with its public half
        self.base_url = ""  # set by whoever serves the app
        self.trades: dict[str, Trade] = {}
        self.notifications: list[Notification] = []
        self.deliver = True  # False: notifications are kept here but never sent (a notification that got lost)
        self.calls: list[str] = []  # every gateway method called, in order
        # mismatches a test plants in the bill: another amount for a payment / a refund, a refund left out
        self.bill_amounts: dict[str, int] = {}  # out_trade_no -> amount
        self.bill_refund_amounts: dict[str, int] = {}  # out_request_no -> amount
        self.bill_dropped_refunds: set[str] = set()  # out_request_nos
        self._bills: dict[str, bytes] = {}
        self._tasks: set[asyncio.Task[str]] = set()  # notifications in flight (on whichever loop sent them)
        self.app = Starlette(
            routes=[
                Route("/gateway.do", self.gateway, methods=["GET", "POST"]),
                Route("/cashier/{out_trade_no}", self.cashier, methods=["GET"]),
                Route("/cashier/{out_trade_no}/pay", self.pay, methods=["POST"]),
                Route("/downloadBillFile.resource", self.download_bill, methods=["GET"]),
            ]
        )

    @property
    def public_key(self) -> str:
        return public_pem(self.key)

    @property
    def gateway_url(self) -> str:
        return f"{self.base_url}/gateway.do"

    # ---- the gateway ------------------------------------------------------------------------------------

    async def gateway(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        method = params.get("method", "")
        self.calls.append(method)
        response_key = method.replace(".", "_") + "_response"
        problem = self._request_problem(params)
        if method in PRODUCT_CODES:
            if problem is not None:
                return self._error_page(problem.body["sub_code"], problem.body["sub_msg"], 400)
            try:
                trade = self._open(method, params)
            except Refused as refused:
                return self._error_page(refused.body["sub_code"], refused.body["sub_msg"], 400)
            return RedirectResponse(f"/cashier/{trade.out_trade_no}", status_code=302)
        handler = self._server_apis().get(method)
        if handler is None:
            body = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method", "sub_msg": method}
            return self._signed_answer("error_response", body)
        if problem is not None:
            return self._signed_answer(response_key, problem.body)
        try:
            biz = json.loads(params.get("biz_content") or "{}")
            body = {"code": "10000", "msg": "Success", **handler(biz)}
        except Refused as refused:
            body = refused.body
        except (ValueError, TypeError, KeyError) as exc:
            body = Refused("isv.invalid-parameter", f"参数无效: {exc}", "40002", "Invalid Arguments").body
        return self._signed_answer(response_key, body)

    def _request_problem(self, params: Mapping[str, str]) -> Refused | None:
        if params.get("app_id") != self.app_id:
            return Refused("isv.invalid-app-id", "无效的AppID参数", "40002", "Invalid Arguments")
        if params.get("sign_type") != "RSA2" or params.get("charset", "").lower() != "utf-8":
            return Refused("isv.invalid-signature-type", "无效签名类型或字符集", "40002", "Invalid Arguments")
        for name in ("method", "timestamp", "version", "biz_content"):
            if not params.get(name):
                return Refused(f"isv.missing-{name}", f"缺少{name}参数", "40001", "Missing Required Arguments")
        try:  # Beijing time, as Alipay reads it; held to a 10-minute skew here
            stamp = datetime.strptime(params["timestamp"], TIME_FORMAT).replace(tzinfo=CST)
        except ValueError:
            return Refused("isv.invalid-timestamp", "时间戳格式错误", "40002", "Invalid Arguments")
        if abs(stamp - datetime.now(UTC)) > timedelta(minutes=10):
            return Refused("isv.invalid-timestamp", "时间戳超出允许范围", "40002", "Invalid Arguments")
        if not rsa2_valid(self.app_public_key, sign_content(params), params.get("sign", "")):
            return Refused("isv.invalid-signature", "验签出错", "40002", "Invalid Arguments")
        return None

    def _signed_answer(self, response_key: str, body: Mapping[str, Any]) -> Response:
        inner = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        text = f'{{"{response_key}":{inner},"sign":"{rsa2_sign(self.key, inner)}"}}'
        return Response(text.encode(), media_type="application/json;charset=utf-8")

    def _server_apis(self) -> dict[str, Any]:
        return {
            "alipay.trade.query": self._query,
            "alipay.trade.close": self._close,
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._refund_query,
            "alipay.data.dataservice.bill.downloadurl.query": self._bill_url,
        }

    # ---- page / wap pay: the cashier ----------------------------------------------------------------------

    def _open(self, method: str, params: Mapping[str, str]) -> Trade:
        biz = json.loads(params["biz_content"])
        total = to_fen(biz.get("total_amount"))
        if total is None or not 1 <= total <= 10_000_000_000 or not biz.get("subject") or not biz.get("out_trade_no"):
            raise Refused("ACQ.INVALID_PARAMETER", "参数无效 (total_amount / subject / out_trade_no)")
        if any(char in biz["subject"] for char in "/=&") or len(biz["subject"]) > 256:
            raise Refused("ACQ.INVALID_PARAMETER", "订单标题不可使用特殊字符，如 /，=，& 等")
        if biz.get("product_code") != PRODUCT_CODES[method]:
            raise Refused("ACQ.PRODUCT_CODE_INVALID", "产品码错误")
        existing = self.trades.get(biz["out_trade_no"])
        if existing is not None:
            if existing.total != total:
                raise Refused("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            return existing
        expire = biz.get("time_expire")
        trade = Trade(
            out_trade_no=biz["out_trade_no"],
            method=method,
            subject=biz["subject"],
            total=total,
            notify_url=params.get("notify_url", ""),
            return_url=params.get("return_url", ""),
            passback=biz.get("passback_params", ""),
            time_expire=datetime.strptime(expire, TIME_FORMAT).replace(tzinfo=CST) if expire else None,
        )
        self.trades[trade.out_trade_no] = trade
        return trade

    def _expire(self, trade: Trade) -> None:
        """Alipay closes an unpaid trade once its time_expire has passed."""
        if trade.status == "WAIT_BUYER_PAY" and trade.time_expire and trade.time_expire <= datetime.now(UTC):
            trade.status = "TRADE_CLOSED"

    async def cashier(self, request: Request) -> Response:
        trade = self.trades.get(request.path_params["out_trade_no"])
        if trade is None:
            return self._error_page("ACQ.TRADE_NOT_EXIST", "交易不存在", 404)
        self._expire(trade)
        if trade.status != "WAIT_BUYER_PAY":
            message = "交易已支付" if trade.status == "TRADE_SUCCESS" else "交易已关闭"
            return self._error_page(trade.status, message, 409)
        page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>支付宝收银台 (模拟)</title></head>
<body><main><h1>支付宝</h1><p class="subject">{html.escape(trade.subject)}</p>
<p class="amount" data-fen="{trade.total}">¥{yuan(trade.total)}</p>
<form method="post" action="/cashier/{html.escape(trade.out_trade_no)}/pay">
<button type="submit" id="alipay-pay">确认付款</button></form></main></body></html>"""
        return HTMLResponse(page)

    async def pay(self, request: Request) -> Response:
        """The buyer confirms: the trade is paid, Knowcast is notified, the browser goes back to return_url."""
        trade = self.trades.get(request.path_params["out_trade_no"])
        if trade is None:
            return self._error_page("ACQ.TRADE_NOT_EXIST", "交易不存在", 404)
        self._expire(trade)
        if trade.status != "WAIT_BUYER_PAY":
            return self._error_page(trade.status, "交易已关闭或已支付，不能付款", 409)
        self.settle(trade)
        if not trade.return_url:
            return HTMLResponse("<p>支付成功</p>")
        separator = "&" if "?" in trade.return_url else "?"
        return RedirectResponse(trade.return_url + separator + urlencode(self._return_params(trade)), status_code=302)

    def settle(self, trade: Trade) -> Notification:
        """The money arrives (the cashier's pay button, or a test making the buyer pay behind Knowcast's back)."""
        trade.status = "TRADE_SUCCESS"
        trade.paid_at = datetime.now(UTC)
        return self.notify(trade)

    def _return_params(self, trade: Trade) -> dict[str, str]:
        params = {
            "app_id": self.app_id,
            "auth_app_id": self.app_id,
            "charset": "utf-8",
            "method": f"{trade.method}.return",
            "out_trade_no": trade.out_trade_no,
            "seller_id": self.seller_id,
            "timestamp": cst(datetime.now(UTC)),
            "total_amount": yuan(trade.total),
            "trade_no": trade.trade_no,
            "version": "1.0",
            "sign_type": "RSA2",
        }
        params["sign"] = rsa2_sign(self.key, sign_content(params, notification=True))
        return params

    def _error_page(self, code: str, message: str, status: int) -> Response:
        text = f"{html.escape(message)} ({html.escape(code)})"
        page = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>支付宝 - 错误</title>'
            f'<p class="error" data-code="{html.escape(code)}">{text}</p></html>'
        )
        return HTMLResponse(page, status_code=status)

    # ---- notifications ------------------------------------------------------------------------------------

    def notification_fields(self, trade: Trade, **extra: str) -> dict[str, str]:
        now = datetime.now(UTC)
        fields = {
            "notify_time": cst(now),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.app_id,
            "auth_app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_id": "2088102177846880",
            "buyer_logon_id": "buy***@example.com",
            "seller_id": self.seller_id,
            "seller_email": "shop***@example.com",
            "trade_status": trade.status,
            "total_amount": yuan(trade.total),
            "receipt_amount": yuan(trade.total),
            "invoice_amount": yuan(trade.total),
            "buyer_pay_amount": yuan(trade.total),
            "point_amount": "0.00",
            "subject": trade.subject,
            "gmt_create": cst(trade.created_at),
            "fund_bill_list": json.dumps([{"amount": yuan(trade.total), "fundChannel": "ALIPAYACCOUNT"}]),
        }
        if trade.paid_at is not None:
            fields["gmt_payment"] = cst(trade.paid_at)
        if trade.passback:
            fields["passback_params"] = trade.passback
        fields.update(extra)
        return fields

    def signed(self, fields: dict[str, str]) -> dict[str, str]:
        """Fields with Alipay's signature (a test may change them afterwards to tamper)."""
        out = {k: v for k, v in fields.items() if k != "sign"}
        out["sign"] = rsa2_sign(self.key, sign_content(out, notification=True))
        return out

    def notify(self, trade: Trade, **extra: str) -> Notification:
        notification = Notification(self.signed(self.notification_fields(trade, **extra)))
        self.notifications.append(notification)
        if self.deliver and trade.notify_url:
            task = asyncio.get_running_loop().create_task(self.send(notification, trade.notify_url))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return notification

    async def send(self, notification: Notification, url: str, *, attempts: int = 5) -> str:
        """POST the form until Knowcast answers ``success`` (bounded); returns the last answer."""
        answer = ""
        async with httpx.AsyncClient(timeout=10) as http:
            for attempt in range(attempts):
                try:
                    response = await http.post(
                        url,
                        content=notification.body,
                        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
                    )
                    answer = response.text
                except httpx.HTTPError as exc:
                    answer = f"error: {exc}"
                notification.answers.append(answer)
                if answer == "success":
                    break
                await asyncio.sleep(0.1 * (attempt + 1))
        return answer

    async def settled(self, rounds: int = 400) -> None:
        """Wait (bounded) until every notification in flight has been answered; the simulator may run on
        another thread's loop, so this polls instead of awaiting its tasks."""
        for _ in range(rounds):
            if not self._tasks:
                return
            await asyncio.sleep(0.025)
        raise AssertionError("Alipay notifications are still in flight")

    # ---- server APIs --------------------------------------------------------------------------------------

    def _trade(self, biz: Mapping[str, Any]) -> Trade:
        trade = self.trades.get(str(biz.get("out_trade_no", "")))
        if trade is None and biz.get("trade_no"):
            trade = next((t for t in self.trades.values() if t.trade_no == biz["trade_no"]), None)
        if trade is None:
            raise Refused("ACQ.TRADE_NOT_EXIST", "交易不存在")
        self._expire(trade)
        return trade

    def _query(self, biz: Mapping[str, Any]) -> dict[str, Any]:
        trade = self._trade(biz)
        body = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "buy***@example.com",
            "trade_status": trade.status,
            "total_amount": yuan(trade.total),
            "buyer_pay_amount": yuan(trade.total) if trade.paid_at else "0.00",
            "point_amount": "0.00",
            "invoice_amount": yuan(trade.total) if trade.paid_at else "0.00",
            "receipt_amount": yuan(trade.total) if trade.paid_at else "0.00",
        }
        if trade.paid_at is not None:
            body["send_pay_date"] = cst(trade.paid_at)
        return body

    def _close(self, biz: Mapping[str, Any]) -> dict[str, Any]:
        trade = self._trade(biz)
        if trade.status != "WAIT_BUYER_PAY":
            raise Refused("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        self.notify(trade, gmt_close=cst(datetime.now(UTC)))
        return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}

    def _refund(self, biz: Mapping[str, Any]) -> dict[str, Any]:
        trade = self._trade(biz)
        amount = to_fen(biz["refund_amount"])
        request_no = str(biz.get("out_request_no") or trade.out_trade_no)
        answer = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "buy***@example.com",
        }
        earlier = trade.refunds.get(request_no)
        if earlier is not None:  # the same request again: nothing moves
            if earlier.amount != amount:
                raise Refused("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原请求不一致")
            return {**answer, "fund_change": "N", "refund_fee": yuan(trade.refunded)}
        if trade.paid_at is None or trade.status not in ("TRADE_SUCCESS", "TRADE_CLOSED"):
            raise Refused("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        if amount is None or amount <= 0 or amount > trade.total - trade.refunded:
            raise Refused("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        now = datetime.now(UTC)
        trade.refunds[request_no] = Refund(request_no, amount, now)
        if trade.refunded == trade.total:
            trade.status = "TRADE_CLOSED"
        extra = {"refund_fee": yuan(trade.refunded), "gmt_refund": cst(now), "out_biz_no": request_no}
        if trade.status == "TRADE_CLOSED":
            extra["gmt_close"] = cst(now)
        self.notify(trade, **extra)
        return {**answer, "fund_change": "Y", "refund_fee": yuan(trade.refunded), "gmt_refund_pay": cst(now)}

    def _refund_query(self, biz: Mapping[str, Any]) -> dict[str, Any]:
        trade = self._trade(biz)
        refund = trade.refunds.get(str(biz.get("out_request_no", "")))
        if refund is None:
            return {}  # Alipay: success with no refund data means "no such refund"
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "out_request_no": refund.out_request_no,
            "total_amount": yuan(trade.total),
            "refund_amount": yuan(refund.amount),
            "refund_status": "REFUND_SUCCESS",
        }

    # ---- the daily bill -----------------------------------------------------------------------------------

    def _bill_url(self, biz: Mapping[str, Any]) -> dict[str, Any]:
        if biz.get("bill_type") != "trade":
            raise Refused("isv.invalid-bill-type", "账单类型错误", "40002", "Invalid Arguments")
        day = date.fromisoformat(str(biz["bill_date"]))
        rows = self.bill_rows(day)
        if not rows:
            raise Refused("isp.bill_not_exist", "账单不存在")
        token = secrets.token_urlsafe(12)
        self._bills[token] = self.bill_archive(day, rows)
        return {"bill_download_url": f"{self.base_url}/downloadBillFile.resource?token={token}&bizType=trade"}

    def bill_rows(self, day: date) -> list[dict[str, str]]:
        def on_day(moment: datetime | None) -> bool:
            return moment is not None and moment.astimezone(CST).date() == day

        rows = []
        for trade in self.trades.values():
            if on_day(trade.paid_at):
                amount = self.bill_amounts.get(trade.out_trade_no, trade.total)
                rows.append(self._bill_row(trade, "交易", amount, trade.paid_at, ""))
            for refund in trade.refunds.values():
                if on_day(refund.at) and refund.out_request_no not in self.bill_dropped_refunds:
                    amount = self.bill_refund_amounts.get(refund.out_request_no, refund.amount)
                    rows.append(self._bill_row(trade, "退款", -amount, refund.at, refund.out_request_no))
        return rows

    def _bill_row(self, trade: Trade, kind: str, amount: int, at: datetime | None, request_no: str) -> dict[str, str]:
        row = dict.fromkeys(BILL_COLUMNS, "")
        row.update(
            {
                "支付宝交易号": trade.trade_no,
                "商户订单号": trade.out_trade_no,
                "业务类型": kind,
                "商品名称": trade.subject,
                "创建时间": cst(trade.created_at),
                "完成时间": cst(at or trade.created_at),
                "对方账户": "buy***@example.com",
                "订单金额（元）": yuan(amount),
                "商家实收（元）": yuan(amount),
                "退款批次号/请求号": request_no,
                "服务费（元）": yuan(-round(abs(amount) * 0.006)),
            }
        )
        return row

    def bill_archive(self, day: date, rows: list[dict[str, str]]) -> bytes:
        """The zip Alipay serves: the detail and the summary, GBK, numbers padded with a tab."""
        stamp = day.strftime("%Y%m%d")
        out = io.StringIO()
        out.write(f"#支付宝业务明细查询\n#账号：[{self.seller_id}0156]\n")
        out.write(
            f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   终止日期：[{day + timedelta(days=1):%Y年%m月%d日} 00:00:00]\n"
        )
        out.write("#-----------------------------------------业务明细列表----------------------------------------\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(BILL_COLUMNS)
        for row in rows:
            writer.writerow([row[column] + ("\t" if row[column] else "") for column in BILL_COLUMNS])
        payments = sum(1 for r in rows if r["业务类型"] == "交易")
        out.write("#-----------------------------------------业务明细列表结束------------------------------------\n")
        out.write(f"#交易合计：{payments}笔，退款合计：{len(rows) - payments}笔\n")
        out.write(f"#导出时间：[{datetime.now(CST):%Y年%m月%d日 %H:%M:%S}]\n")
        summary = (
            "#支付宝业务汇总查询\n门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）\n"
            f"合计,,{payments},{len(rows) - payments},0.00,0.00\n"
        )
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bill:
            bill.writestr(f"{self.seller_id}_{stamp}_业务明细.csv", out.getvalue().encode("gbk"))
            bill.writestr(f"{self.seller_id}_{stamp}_业务明细(汇总).csv", summary.encode("gbk"))
        return archive.getvalue()

    async def download_bill(self, request: Request) -> Response:
        archive = self._bills.pop(request.query_params.get("token", ""), None)  # one download per URL
        if archive is None:
            return Response("bill url expired", status_code=404)
        return Response(archive, media_type="application/zip")

    def forget(self, out_trade_no: str) -> None:
        """Alipay has no such trade (Knowcast holds a payment Alipay never took)."""
        del self.trades[out_trade_no]

    def ghost(self, out_trade_no: str, amount: int) -> Trade:
        """A trade paid at Alipay that Knowcast never opened (money Knowcast never heard of)."""
        trade = Trade(out_trade_no, "alipay.trade.page.pay", "未知订单", amount, "", "", "", None)
        trade.status, trade.paid_at = "TRADE_SUCCESS", datetime.now(UTC)
        self.trades[out_trade_no] = trade
        return trade

    def console_refund(self, out_trade_no: str, out_request_no: str, amount: int) -> dict[str, Any]:
        """The merchant refunds in Alipay's own console (the same as alipay.trade.refund)."""
        return self._refund(
            {"out_trade_no": out_trade_no, "out_request_no": out_request_no, "refund_amount": yuan(amount)}
        )
