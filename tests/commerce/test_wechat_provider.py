"""The WeChat Pay provider over real HTTP against the simulator (tests/commerce/simulators/wechat.py): every
request is signed by the SDK and checked by the simulator, every answer and notification is signed by the
simulator's platform key and checked by the SDK."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from knowcast.commerce.providers.base import (
    CheckoutRequest,
    EventKind,
    PayMethod,
    RefundRequest,
    WebhookRejected,
)
from knowcast.commerce.providers.wechat import WechatProvider, from_settings, parse_bill
from knowcast.errors import ConfigError, Conflict, ServiceUnavailable, ValidationFailed
from knowcast.settings import Settings
from tests.commerce.simulators.wechat import CST, Notification, WechatKeys, WechatSimulator, rsa_verify
from tests.commerce.wechat_support import credentials, wechat, wechat_keys, wechat_sim, write_keys

__all__ = ["wechat", "wechat_keys", "wechat_sim"]  # fixtures


def request(method: PayMethod, reference: str = "kcTEST0001", **changes: Any) -> CheckoutRequest:
    fields: dict[str, Any] = {
        "order_id": 42,
        "amount": 6900,
        "currency": "CNY",
        "title": "理财入门课",
        "return_url": "http://127.0.0.1:8000/rooms/1?order=42",
        "method": method,
        "reference": reference,
        "client_ip": "203.0.113.7",
        "expires_at": datetime.now(UTC) + timedelta(minutes=15),
    }
    fields.update(changes)
    return CheckoutRequest(**fields)


async def test_native_checkout_is_a_qr_code_and_the_paid_trade_is_found_by_query(
    wechat: WechatProvider, wechat_sim: WechatSimulator
) -> None:
    session = await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE))
    assert session.reference == "kcTEST0001" and session.url == "" and session.jsapi is None
    assert session.qr_code and session.qr_code.startswith("weixin://wxpay/bizpayurl?pr=")
    trade = wechat_sim.trades["kcTEST0001"]
    assert (trade.trade_type, trade.total, trade.attach, trade.description) == ("NATIVE", 6900, "42", "理财入门课")
    assert trade.time_expire is not None and trade.request["time_expire"].endswith("+08:00")
    assert await wechat.query("kcTEST0001") is None  # NOTPAY
    wechat_sim.deliver = False
    wechat_sim.pay("kcTEST0001")
    event = await wechat.query("kcTEST0001")
    assert event is not None and event.kind is EventKind.SUCCEEDED
    assert (event.amount, event.currency, event.order_id) == (6900, "CNY", 42)
    assert (event.merchant_id, event.app_id) == (wechat_sim.keys.mchid, wechat_sim.keys.appid)
    assert event.provider_trade_id == trade.transaction_id and event.event_id == "query:kcTEST0001:succeeded"


async def test_h5_checkout_redirects_to_the_cashier_which_returns_to_knowcast(
    wechat: WechatProvider, wechat_sim: WechatSimulator
) -> None:
    session = await wechat.create_checkout(request(PayMethod.WECHAT_H5))
    assert session.qr_code is None and session.url.startswith(wechat_sim.base_url + "/sim/h5?")
    query = parse_qs(urlsplit(session.url).query)
    assert query["redirect_url"] == ["http://127.0.0.1:8000/rooms/1?order=42"]
    assert wechat_sim.trades["kcTEST0001"].request["scene_info"]["payer_client_ip"] == "203.0.113.7"
    wechat_sim.deliver = False
    async with httpx.AsyncClient() as browser:
        page = await browser.get(session.url)
        assert "¥69.00" in page.text and "确认支付" in page.text
        paid = await browser.post(
            wechat_sim.base_url + "/sim/pay",
            data={"out_trade_no": "kcTEST0001", "redirect_url": query["redirect_url"][0]},
        )
    assert paid.status_code == 303 and paid.headers["location"] == query["redirect_url"][0]
    assert wechat_sim.trades["kcTEST0001"].state == "SUCCESS"


async def test_jsapi_checkout_answers_bridge_parameters_signed_with_the_merchant_key(
    wechat: WechatProvider, wechat_sim: WechatSimulator
) -> None:
    with pytest.raises(Conflict) as missing:
        await wechat.create_checkout(request(PayMethod.WECHAT_JSAPI))
    assert missing.value.code == "payment.openid_required"
    session = await wechat.create_checkout(request(PayMethod.WECHAT_JSAPI, openid=wechat_sim.openid))
    params = dict(session.jsapi or {})
    assert params["appId"] == wechat_sim.keys.appid and params["signType"] == "RSA"
    assert params["package"] == "prepay_id=" + wechat_sim.trades["kcTEST0001"].prepay_id
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    assert rsa_verify(wechat_sim.keys.merchant_key.public_key(), message, params["paySign"])
    wechat_sim.deliver = False
    async with httpx.AsyncClient() as phone:
        tampered = await phone.post(wechat_sim.base_url + "/sim/jsapi", json=params | {"nonceStr": "x"})
        assert tampered.json()["err_msg"].startswith("get_brand_wcpay_request:fail")
        done = await phone.post(wechat_sim.base_url + "/sim/jsapi", json=params)
    assert done.json()["err_msg"] == "get_brand_wcpay_request:ok"
    assert wechat_sim.trades["kcTEST0001"].payer_openid == wechat_sim.openid


async def test_bad_checkouts_are_refused_with_a_code(wechat: WechatProvider, wechat_sim: WechatSimulator) -> None:
    with pytest.raises(ValidationFailed) as currency:
        await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE, currency="USD"))
    assert currency.value.code == "payment.currency_unsupported"
    with pytest.raises(ValidationFailed) as method:
        await wechat.create_checkout(request(PayMethod.ALIPAY_PAGE))
    assert method.value.code == "payment.method_unavailable"
    with pytest.raises(ValidationFailed) as reference:
        await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE, reference="no spaces allowed"))
    assert reference.value.code == "payment.bad_reference"
    await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE))
    with pytest.raises(ServiceUnavailable) as duplicate:  # the same out_trade_no for another amount
        await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE, amount=100))
    assert duplicate.value.code == "payment.provider_error" and "INVALID_REQUEST" in duplicate.value.message
    long_title = "很长的课程名称" * 20  # WeChat Pay takes 127 bytes of description
    await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE, reference="kcTEST0002", title=long_title))
    assert len(wechat_sim.trades["kcTEST0002"].description.encode()) <= 127


async def test_a_wrong_merchant_key_is_refused_by_wechat_pay(wechat_sim: WechatSimulator) -> None:
    other = WechatKeys.generate()
    provider = WechatProvider(credentials(wechat_sim, private_key=other.merchant_key_pem()))
    with pytest.raises(ServiceUnavailable) as refused:
        await provider.create_checkout(request(PayMethod.WECHAT_NATIVE))
    assert "SIGN_ERROR" in refused.value.message and not wechat_sim.trades


async def test_an_answer_not_signed_by_wechat_pay_is_not_believed(wechat_sim: WechatSimulator) -> None:
    """A man in the middle (here: the platform key the provider trusts is another one) cannot answer for
    WeChat Pay: the SDK verifies every answer's signature."""
    other = WechatKeys.generate()
    provider = WechatProvider(credentials(wechat_sim, public_key=other.platform_public_pem()))
    with pytest.raises(ServiceUnavailable) as refused:
        await provider.create_checkout(request(PayMethod.WECHAT_NATIVE))
    assert refused.value.code == "payment.provider_unavailable" and "signature" in refused.value.message


async def test_platform_certificate_mode_downloads_and_decrypts_the_certificate(wechat_keys: WechatKeys) -> None:
    with WechatSimulator(wechat_keys, public_key_mode=False).run() as sim:
        provider = WechatProvider(credentials(sim))
        session = await provider.create_checkout(request(PayMethod.WECHAT_NATIVE))
        assert session.qr_code and ("GET", "/v3/certificates") in sim.calls
        sim.deliver = False
        sim.pay("kcTEST0001")
        note = sim.notifications[-1]
        event = await provider.verify(note.body, note.headers)
        assert event is not None and event.kind is EventKind.SUCCEEDED


# ---- notifications --------------------------------------------------------------------------------------


async def paid_notification(wechat: WechatProvider, sim: WechatSimulator) -> Notification:
    await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE))
    sim.deliver = False
    sim.pay("kcTEST0001")
    return sim.notifications[-1]


async def test_a_payment_notification_is_verified_decrypted_and_mapped(
    wechat: WechatProvider, wechat_sim: WechatSimulator
) -> None:
    note = await paid_notification(wechat, wechat_sim)
    event = await wechat.verify(note.body, note.headers)
    assert event is not None and event.kind is EventKind.SUCCEEDED
    envelope = json.loads(note.body)
    assert event.event_id == "wechat:" + envelope["id"] and envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert (event.reference, event.order_id, event.amount, event.currency) == ("kcTEST0001", 42, 6900, "CNY")
    lowered = {k.lower(): v for k, v in note.headers.items()}  # as Starlette hands them over
    assert await wechat.verify(note.body, lowered) == event
    answer = wechat.answer(True)
    assert answer.status_code == 200 and json.loads(answer.body) == {"code": "SUCCESS", "message": "成功"}
    refused = wechat.answer(False)
    assert refused.status_code == 400 and json.loads(refused.body)["code"] == "FAIL"


async def test_forged_tampered_and_stale_notifications_are_refused(
    wechat: WechatProvider, wechat_sim: WechatSimulator
) -> None:
    note = await paid_notification(wechat, wechat_sim)
    trade = wechat_sim.trades["kcTEST0001"]
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = wechat_sim.transaction_notification(trade)
    forged.headers = wechat_sim.signed_headers(forged.body, key=forger)
    # the body changed after it was signed: the signature no longer covers it
    altered = note.body.replace(b'"id":"', b'"id":"x', 1)
    # re-signed but encrypted with another APIv3 key: the signature holds, the AES-GCM tag does not
    resource = wechat_sim._transaction(trade)
    wrong_key = wechat_sim.notification(
        trade.notify_url, "TRANSACTION.SUCCESS", "transaction", "", resource, apiv3_key="k" * 32
    )
    # one byte of the ciphertext flipped, then properly signed again
    envelope = json.loads(note.body)
    raw = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    raw[3] ^= 0x01
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    flipped = json.dumps(envelope, separators=(",", ":")).encode()
    stale = wechat_sim.notification(
        trade.notify_url,
        "TRANSACTION.SUCCESS",
        "transaction",
        "",
        resource,
        timestamp=int(datetime.now(UTC).timestamp()) - 3600,
    )
    cases: list[tuple[bytes, dict[str, str], str]] = [
        (forged.body, forged.headers, "payment.bad_signature"),
        (altered, note.headers, "payment.bad_signature"),
        (wrong_key.body, wrong_key.headers, "payment.bad_signature"),
        (flipped, wechat_sim.signed_headers(flipped), "payment.bad_signature"),
        (stale.body, stale.headers, "payment.stale_signature"),
        (note.body, {}, "payment.bad_signature"),
        (note.body, note.headers | {"Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}, "payment.bad_signature"),
        (note.body, note.headers | {"Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}, "payment.bad_signature"),
        (b"not json", wechat_sim.signed_headers(b"not json"), "payment.bad_payload"),
    ]
    for body, headers, code in cases:
        with pytest.raises(WebhookRejected) as refused:
            await wechat.verify(body, headers)
        assert refused.value.code == code, (body[:60], code)


async def test_refund_notifications_and_the_refund_itself(wechat: WechatProvider, wechat_sim: WechatSimulator) -> None:
    await paid_notification(wechat, wechat_sim)
    partial = await wechat.refund(RefundRequest("kcTEST0001", "kcRF00000001", 2000, 6900, "CNY", "不想要了"))
    assert partial.done is False and partial.provider_refund_id  # PROCESSING: the notification confirms
    note = wechat_sim.notifications[-1]
    event = await wechat.verify(note.body, note.headers)
    assert event is not None and event.kind is EventKind.REFUNDED
    assert (event.reference, event.refund_reference, event.amount) == ("kcTEST0001", "kcRF00000001", 2000)
    assert event.merchant_id == wechat_sim.keys.mchid and event.app_id is None
    again = await wechat.refund(RefundRequest("kcTEST0001", "kcRF00000001", 2000, 6900, "CNY"))
    assert again.provider_refund_id == partial.provider_refund_id  # the same out_refund_no is one refund
    with pytest.raises(Conflict) as too_much:
        await wechat.refund(RefundRequest("kcTEST0001", "kcRF00000002", 5000, 6900, "CNY"))
    assert too_much.value.code == "payment.refund_exceeds"
    wechat_sim.refund_status = "SUCCESS"
    rest = await wechat.refund(RefundRequest("kcTEST0001", "kcRF00000003", 4900, 6900, "CNY"))
    assert rest.done is True
    paid = await wechat.query("kcTEST0001")  # a refunded trade was still paid
    assert paid is not None and paid.kind is EventKind.SUCCEEDED


async def test_close_an_unpaid_trade_and_a_paid_one_cannot_be_closed(
    wechat: WechatProvider, wechat_sim: WechatSimulator
) -> None:
    await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE))
    await wechat.close_checkout("kcTEST0001")
    assert wechat_sim.trades["kcTEST0001"].state == "CLOSED"
    closed = await wechat.query("kcTEST0001")
    assert closed is not None and closed.kind is EventKind.EXPIRED
    await wechat.close_checkout("kcNEVERMADE")  # nothing to close
    await wechat.create_checkout(request(PayMethod.WECHAT_NATIVE, reference="kcTEST0002"))
    wechat_sim.deliver = False
    wechat_sim.pay("kcTEST0002")
    with pytest.raises(Conflict) as paid:
        await wechat.close_checkout("kcTEST0002")
    assert paid.value.code == "payment.already_paid"
    assert await wechat.query("kcUNKNOWN01") is None


async def test_the_statement_is_the_trade_bill_of_the_china_day(
    wechat: WechatProvider, wechat_sim: WechatSimulator
) -> None:
    today = datetime.now(CST).date()
    assert (await wechat.statement(today)).lines == []  # NO_STATEMENT_EXIST
    await paid_notification(wechat, wechat_sim)
    await wechat.refund(RefundRequest("kcTEST0001", "kcRF00000001", 1900, 6900, "CNY"))
    statement = await wechat.statement(today)
    assert statement.day == today
    kinds = sorted((line.kind, line.reference, line.amount, line.refund_reference) for line in statement.lines)
    assert kinds == [("payment", "kcTEST0001", 6900, None), ("refund", "kcTEST0001", 1900, "kcRF00000001")]
    assert all(line.at.tzinfo is not None and line.currency == "CNY" for line in statement.lines)
    assert (await wechat.statement(today - timedelta(days=1))).lines == []


def test_the_bill_parser_reads_wechats_format() -> None:
    """The layout of WeChat Pay's trade bill (bill_type=ALL): backquoted fields, amounts in yuan, two summary
    rows; a refund row names its out_refund_no."""
    text = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
        "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
        "手续费,费率,订单金额,申请退款金额,费率备注\r\n"
        "`2026-12-05 10:00:01,`wx1,`1900009191,`0,`,`4200001,`kcA000001,`oX,`NATIVE,`SUCCESS,`OTHERS,`CNY,`99.00,"
        "`0.00,`0,`0,`0.00,`0.00,`,`,`课,`42,`0.59,`0.60%,`99.00,`0.00,`\r\n"
        "`2026-12-05 11:00:00,`wx1,`1900009191,`0,`,`4200001,`kcA000001,`oX,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,"
        "`0.00,`5000001,`kcR000001,`30.00,`0.00,`ORIGINAL,`SUCCESS,`课,`42,`-0.18,`0.60%,`0.00,`30.00,`\r\n"
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
        "`2,`99.00,`30.00,`0.00,`0.41,`99.00,`30.00\r\n"
    )
    lines = parse_bill(text)
    assert [(line.kind, line.amount, line.refund_reference) for line in lines] == [
        ("payment", 9900, None),
        ("refund", 3000, "kcR000001"),
    ]
    assert lines[0].at == datetime(2026, 12, 5, 2, 0, 1, tzinfo=UTC) and lines[0].provider_trade_id == "4200001"


def test_settings_name_what_is_missing(wechat_sim: WechatSimulator, tmp_path: Path) -> None:
    values = write_keys(wechat_sim, tmp_path)
    provider = from_settings(Settings(secret_key="s" * 40, payment_providers="wechat", **values))  # type: ignore[arg-type]
    assert provider.merchant_id == wechat_sim.keys.mchid and provider.app_id == wechat_sim.keys.appid
    assert provider.notify_url().endswith("/api/v1/payments/wechat/webhook")
    assert PayMethod.WECHAT_JSAPI in provider.methods
    no_secret = from_settings(Settings(secret_key="s" * 40, **(values | {"wechat_app_secret": None})))  # type: ignore[arg-type]
    assert no_secret.methods == (PayMethod.WECHAT_NATIVE, PayMethod.WECHAT_H5)  # no openid, no JSAPI
    for name, value, says in [
        ("wechat_mchid", None, "KNOWCAST_WECHAT_MCHID"),
        ("wechat_apiv3_key", "short", "KNOWCAST_WECHAT_APIV3_KEY"),
        ("wechat_public_key_id", None, "KNOWCAST_WECHAT_PUBLIC_KEY_PATH"),
        ("wechat_private_key_path", str(tmp_path / "missing.pem"), "KNOWCAST_WECHAT_PRIVATE_KEY_PATH"),
    ]:
        with pytest.raises(ConfigError) as bad:
            from_settings(Settings(secret_key="s" * 40, **(values | {name: value})))  # type: ignore[arg-type]
        assert says in str(bad.value)
