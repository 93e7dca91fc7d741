"""AlipayProvider against the Alipay simulator over real HTTP (tests/commerce/simulators/alipay.py): the SDK's
signed requests, the cashier, notifications, query, close, refunds and the daily bill. No database here; the
order side is in test_alipay.py."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from knowcast.commerce.providers.alipay import CST, AlipayProvider, bill_lines
from knowcast.commerce.providers.base import (
    CheckoutRequest,
    EventKind,
    PayMethod,
    RefundRequest,
    WebhookRejected,
)
from knowcast.errors import ConfigError, Conflict, ServiceUnavailable, ValidationFailed
from tests.commerce.alipay_fixtures import APP_ID, SELLER_ID, AlipayKeys, app_keys, provider_for, served
from tests.commerce.simulators.alipay import AlipaySimulator, new_key, rsa2_sign, sign_content

NOTIFY = "https://shop.example.com/api/v1/payments/alipay/webhook"


@pytest.fixture
def keys() -> AlipayKeys:
    return app_keys()


@pytest.fixture
def sim(keys: AlipayKeys) -> Iterator[AlipaySimulator]:
    simulator = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=keys.app_public)
    simulator.deliver = False  # here the test hands notifications to verify() itself
    with served(simulator) as running:
        yield running


@pytest.fixture
async def provider(sim: AlipaySimulator, keys: AlipayKeys) -> AsyncIterator[AlipayProvider]:
    made = provider_for(sim, keys, NOTIFY)
    yield made
    await made.close()


def checkout(
    reference: str, amount: int = 6900, method: PayMethod = PayMethod.ALIPAY_WAP, **kw: object
) -> CheckoutRequest:
    fields: dict[str, Any] = {"title": "理财入门课", **kw}
    return CheckoutRequest(
        order_id=42,
        amount=amount,
        currency="CNY",
        return_url="https://shop.example.com/library?order=42",
        method=method,
        reference=reference,
        **fields,
    )


async def open_and_pay(url: str) -> httpx.Response:
    """The buyer's browser: open the cashier, press pay; the answer is the redirect back to return_url."""
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        cashier = await browser.get(url)
        assert cashier.status_code == 200, cashier.text
        assert 'id="alipay-pay"' in cashier.text
        action = str(cashier.url).rstrip("/") + "/pay"
        return await browser.post(action, follow_redirects=False)


# ---- signatures -------------------------------------------------------------------------------------------


def test_the_string_to_sign_matches_alipays_worked_example() -> None:
    """Alipay's open-platform guide ("自行实现签名") gives these request parameters and the string they sign."""
    biz = (
        '{"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"},{"name":"查询","subButton":'
        '[{"actionParam":"ZFB_YECX","actionType":"out","name":"余额查询"},{"actionParam":"ZFB_LLCX","actionType":'
        '"out","name":"流量查询"},{"actionParam":"ZFB_HFCX","actionType":"out","name":"话费查询"}]},{"actionParam":'
        '"http://m.alipay.com","actionType":"link","name":"最新优惠"}]}'
    )
    params = {
        "app_id": "2014072300007148",
        "method": "alipay.mobile.public.menu.add",
        "charset": "GBK",
        "sign_type": "RSA2",
        "timestamp": "2014-07-24 03:07:50",
        "biz_content": biz,
        "sign": "e9zEAe4TTQ4LPLQvETPoLGXTiURcxiAKfMVQ6Hrrsx2hmyIEGvSfAQzbLxHrhyZ48wOJXTsD4FPnt+YGdK57+fP1BCbf9rIV"
        "ycfjhYCqlFhbTu9pFnZgT55W+xbAFb9y7vL0MyAxwXUXvZtQVqEwW7pURtKilbcBTEW7TAxzgro=",
        "version": "1.0",
    }
    expected = (
        f"app_id=2014072300007148&biz_content={biz}&charset=GBK&method=alipay.mobile.public.menu.add"
        "&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0"
    )
    assert sign_content(params) == expected


def test_rsa2_signatures_agree_with_openssl_and_the_sdk(tmp_path: Path, keys: AlipayKeys) -> None:
    """SHA256withRSA three ways: the simulator (cryptography), openssl's CLI, and the SDK (pycryptodomex)."""
    key = serialization.load_pem_private_key(keys.app_private.encode(), password=None)
    content = 'app_id=2021000000000001&biz_content={"out_trade_no":"kc_1"}&charset=utf-8'
    ours = rsa2_sign(key, content)  # type: ignore[arg-type]
    pem = tmp_path / "app.pem"
    pem.write_text(keys.app_private)
    openssl = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(pem)], input=content.encode(), capture_output=True, check=True
    )
    assert base64.b64decode(ours) == openssl.stdout
    sim = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=keys.app_public)
    provider = provider_for(sim, keys, NOTIFY)
    assert provider.client.sign_data({"x": "1"}).endswith("sign=" + quote_plus(rsa2_sign(key, "x=1")))  # type: ignore[arg-type]


def test_keys_in_every_form_a_merchant_has_them(sim: AlipaySimulator, keys: AlipayKeys, tmp_path: Path) -> None:
    """PEM text, a PEM file, or the bare base64 Alipay's key tool shows; anything else is a clear config error."""
    bare = "".join(line for line in keys.app_private.splitlines() if "-----" not in line)
    path = tmp_path / "app_private_key.pem"
    path.write_text(keys.app_private)
    for form in (keys.app_private, str(path), bare):
        provider = AlipayProvider(
            app_id=APP_ID,
            app_private_key=form,
            alipay_public_key=sim.public_key,
            seller_id=SELLER_ID,
            notify_url=NOTIFY,
        )
        assert provider.client.sign_data({"x": "1"})
    with pytest.raises(ConfigError):
        AlipayProvider(
            app_id=APP_ID,
            app_private_key="not a key!",
            alipay_public_key=sim.public_key,
            seller_id=None,
            notify_url=NOTIFY,
        )


# ---- checkout and notifications ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", [PayMethod.ALIPAY_PAGE, PayMethod.ALIPAY_WAP])
async def test_page_and_wap_pay_end_to_end(provider: AlipayProvider, sim: AlipaySimulator, method: PayMethod) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=15)
    session = await provider.create_checkout(checkout("kc_pay_1", method=method, expires_at=expires))
    assert session.reference == "kc_pay_1" and session.url.startswith(sim.gateway_url + "?")
    sent = dict(parse_qsl(urlsplit(session.url).query))
    assert sent["method"] == ("alipay.trade.page.pay" if method is PayMethod.ALIPAY_PAGE else "alipay.trade.wap.pay")
    assert sent["notify_url"] == NOTIFY
    back = await open_and_pay(session.url)
    assert back.status_code == 302
    landing = urlsplit(back.headers["location"])
    assert landing.netloc == "shop.example.com"
    returned = dict(parse_qsl(landing.query))
    assert returned["order"] == "42" and returned["out_trade_no"] == "kc_pay_1" and returned["total_amount"] == "69.00"
    trade = sim.trades["kc_pay_1"]
    assert trade.status == "TRADE_SUCCESS"
    assert trade.time_expire == expires.astimezone(CST).replace(microsecond=0)
    [note] = sim.notifications
    event = await provider.verify(note.body, {})
    assert event is not None
    assert (event.kind, event.reference, event.order_id, event.amount, event.currency) == (
        EventKind.SUCCEEDED,
        "kc_pay_1",
        42,
        6900,
        "CNY",
    )
    assert (event.merchant_id, event.app_id, event.provider_trade_id) == (SELLER_ID, APP_ID, trade.trade_no)
    assert event.event_id == note.fields["notify_id"]
    assert provider.answer(True).body == b"success" and provider.answer(False).body == b"fail"


async def test_titles_alipay_would_refuse_are_cleaned(provider: AlipayProvider, sim: AlipaySimulator) -> None:
    title = "A/B 测试 & 增长 = 复利" + "长" * 300
    session = await provider.create_checkout(checkout("kc_title", title=title))
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        cashier = await browser.get(session.url)
    assert cashier.status_code == 200, cashier.text
    assert sim.trades["kc_title"].subject.startswith("A B 测试 增长 复利")


async def test_checkout_refuses_what_alipay_cannot_take(provider: AlipayProvider) -> None:
    with pytest.raises(ValidationFailed) as currency:
        await provider.create_checkout(
            CheckoutRequest(1, 100, "USD", "x", "https://e.com", PayMethod.ALIPAY_PAGE, "r1")
        )
    assert currency.value.code == "payment.currency_unsupported"
    with pytest.raises(ValidationFailed) as method:
        await provider.create_checkout(CheckoutRequest(1, 100, "CNY", "x", "https://e.com", PayMethod.WECHAT_H5, "r1"))
    assert method.value.code == "payment.method_unavailable"


async def test_a_tampered_cashier_link_is_refused_by_the_gateway(provider: AlipayProvider) -> None:
    session = await provider.create_checkout(checkout("kc_tamper", amount=6900))
    cheaper = session.url.replace("69.00", "0.01")
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(cheaper)
    assert page.status_code == 400 and "isv.invalid-signature" in page.text


async def test_forged_tampered_and_malformed_notifications_are_refused(
    provider: AlipayProvider, sim: AlipaySimulator
) -> None:
    session = await provider.create_checkout(checkout("kc_forge"))
    await open_and_pay(session.url)
    good = sim.notifications[-1].fields
    tampered = {**good, "total_amount": "0.01"}
    forger = new_key()
    forged = {k: v for k, v in good.items() if k != "sign"}
    forged["sign"] = rsa2_sign(forger, sign_content(forged, notification=True))
    unsigned = {k: v for k, v in good.items() if k != "sign"}
    md5 = {**good, "sign_type": "RSA"}
    garbage = {**good, "sign": "%%%not-base64%%%"}
    for fields in (tampered, forged, unsigned, md5, garbage):
        with pytest.raises(WebhookRejected):
            await provider.verify(urlencode(fields).encode(), {})
    for body in (b"", b"\xff\xfe", b'{"json": true}', urlencode(good).encode() + b"&sign=twice"):
        with pytest.raises(WebhookRejected):
            await provider.verify(body, {})
    assert await provider.verify(urlencode(good).encode(), {}) is not None


async def test_waiting_and_closed_notifications(provider: AlipayProvider, sim: AlipaySimulator) -> None:
    session = await provider.create_checkout(checkout("kc_wait"))
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        await browser.get(session.url)
    waiting = sim.signed(sim.notification_fields(sim.trades["kc_wait"]))
    assert await provider.verify(urlencode(waiting).encode(), {}) is None  # WAIT_BUYER_PAY: nothing to do
    await provider.close_checkout("kc_wait")
    closed = await provider.verify(sim.notifications[-1].body, {})
    assert closed is not None and closed.kind is EventKind.EXPIRED and closed.reference == "kc_wait"


# ---- query, close, refund ---------------------------------------------------------------------------------


async def test_query_tells_what_became_of_a_trade(provider: AlipayProvider, sim: AlipaySimulator) -> None:
    assert await provider.query("kc_never_opened") is None
    session = await provider.create_checkout(checkout("kc_q"))
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        await browser.get(session.url)
    assert await provider.query("kc_q") is None  # waiting for the buyer
    sim.settle(sim.trades["kc_q"])
    paid = await provider.query("kc_q")
    assert paid is not None and (paid.kind, paid.amount, paid.reference) == (EventKind.SUCCEEDED, 6900, "kc_q")
    assert (paid.merchant_id, paid.app_id) == (SELLER_ID, APP_ID)
    assert paid.event_id == "query:kc_q:succeeded"


async def test_close_at_the_provider(provider: AlipayProvider, sim: AlipaySimulator) -> None:
    await provider.close_checkout("kc_unknown")  # never opened: nothing to close, time_expire guards it
    await provider.create_checkout(checkout("kc_close"))
    await provider.close_checkout("kc_close")  # Alipay opens the trade when the buyer opens the cashier
    assert "kc_close" not in sim.trades
    session = await provider.create_checkout(checkout("kc_close2"))
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        assert (await browser.get(session.url)).status_code == 200
        await provider.close_checkout("kc_close2")
        assert sim.trades["kc_close2"].status == "TRADE_CLOSED"
        again = await browser.get(session.url)
        assert again.status_code == 409  # the buyer cannot pay a closed trade
        assert (await browser.post(f"{sim.base_url}/cashier/kc_close2/pay")).status_code == 409
    await provider.close_checkout("kc_close2")  # twice is fine
    expired = await provider.query("kc_close2")
    assert expired is not None and expired.kind is EventKind.EXPIRED
    session = await provider.create_checkout(checkout("kc_close3"))
    await open_and_pay(session.url)
    with pytest.raises(Conflict) as paid:
        await provider.close_checkout("kc_close3")
    assert paid.value.code == "payment.already_paid"


async def test_partial_then_full_refund(provider: AlipayProvider, sim: AlipaySimulator) -> None:
    session = await provider.create_checkout(checkout("kc_refund", amount=10000))
    await open_and_pay(session.url)
    first = await provider.refund(RefundRequest("kc_refund", "kc_refund-r1", 3000, 10000, "CNY", "不想要了"))
    assert first.done and first.refund_reference == "kc_refund-r1"
    partial = await provider.verify(sim.notifications[-1].body, {})
    assert partial is not None
    assert (partial.kind, partial.amount, partial.refund_reference) == (EventKind.REFUNDED, 3000, "kc_refund-r1")
    assert sim.trades["kc_refund"].status == "TRADE_SUCCESS"
    again = await provider.refund(RefundRequest("kc_refund", "kc_refund-r1", 3000, 10000, "CNY"))
    assert again.done and sim.trades["kc_refund"].refunded == 3000  # a retry moves no money
    with pytest.raises(Conflict) as too_much:
        await provider.refund(RefundRequest("kc_refund", "kc_refund-r2", 9000, 10000, "CNY"))
    assert (
        too_much.value.code == "payment.refund_refused" and "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" in too_much.value.message
    )
    rest = await provider.refund(RefundRequest("kc_refund", "kc_refund-r2", 7000, 10000, "CNY"))
    assert rest.done and sim.trades["kc_refund"].status == "TRADE_CLOSED"
    full = await provider.verify(sim.notifications[-1].body, {})
    assert full is not None and (full.kind, full.amount, full.refund_reference) == (
        EventKind.REFUNDED,
        7000,
        "kc_refund-r2",
    )
    paid = await provider.query("kc_refund")  # closed by refunds, yet it was paid
    assert paid is not None and paid.kind is EventKind.SUCCEEDED


async def test_a_refund_notification_alipay_does_not_know_is_refused(
    provider: AlipayProvider, sim: AlipaySimulator
) -> None:
    session = await provider.create_checkout(checkout("kc_fake_refund"))
    await open_and_pay(session.url)
    trade = sim.trades["kc_fake_refund"]
    fields = sim.signed(
        sim.notification_fields(trade, refund_fee="69.00", out_biz_no="nobody-asked", gmt_refund="2026-12-06 10:00:00")
    )
    with pytest.raises(WebhookRejected):
        await provider.verify(urlencode(fields).encode(), {})


async def test_an_answer_not_signed_by_alipay_is_refused(keys: AlipayKeys) -> None:
    impostor = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=keys.app_public)
    trusted = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=keys.app_public)
    with served(impostor):
        provider = AlipayProvider(
            app_id=APP_ID,
            app_private_key=keys.app_private,
            alipay_public_key=trusted.public_key,  # Knowcast trusts a different Alipay key than the one answering
            seller_id=SELLER_ID,
            notify_url=NOTIFY,
            gateway=impostor.gateway_url,
        )
        with pytest.raises(ServiceUnavailable) as forged:
            await provider.query("kc_x")
        assert forged.value.code == "payment.provider_forged"
        await provider.close()
    unreachable = provider_for(impostor, keys, NOTIFY)
    with pytest.raises(ServiceUnavailable) as down:
        await unreachable.query("kc_x")
    assert down.value.code == "payment.provider_unavailable"
    await unreachable.close()


# ---- the bill ---------------------------------------------------------------------------------------------


async def test_the_daily_bill(provider: AlipayProvider, sim: AlipaySimulator) -> None:
    today = datetime.now(CST).date()
    assert (await provider.statement(today)).lines == []  # isp.bill_not_exist: no trade that day
    for reference, amount in (("kc_b1", 6900), ("kc_b2", 12345)):
        session = await provider.create_checkout(checkout(reference, amount=amount))
        await open_and_pay(session.url)
    await provider.refund(RefundRequest("kc_b2", "kc_b2-r1", 2345, 12345, "CNY"))
    statement = await provider.statement(today)
    got = sorted((line.reference, line.kind, line.amount, line.refund_reference) for line in statement.lines)
    assert got == [
        ("kc_b1", "payment", 6900, None),
        ("kc_b2", "payment", 12345, None),
        ("kc_b2", "refund", 2345, "kc_b2-r1"),
    ]
    assert all(line.currency == "CNY" and line.at.tzinfo is not None for line in statement.lines)
    assert {line.provider_trade_id for line in statement.lines} == {
        sim.trades["kc_b1"].trade_no,
        sim.trades["kc_b2"].trade_no,
    }


def test_the_bill_is_read_as_alipay_writes_it() -> None:
    sim = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=app_keys().app_public)
    archive = sim.bill_archive(datetime.now(CST).date(), [])
    assert bill_lines(archive) == []
    with pytest.raises(ServiceUnavailable):
        bill_lines(b"not a zip")


def test_enabling_alipay_without_its_keys_names_the_missing_settings(tmp_path: Path) -> None:
    from knowcast.commerce.providers.alipay import from_settings
    from knowcast.settings import load_settings

    settings = load_settings(data_dir=tmp_path, secret_key="x" * 40, payment_providers="alipay", alipay_app_id=APP_ID)
    with pytest.raises(ConfigError) as missing:
        from_settings(settings)
    assert (
        "KNOWCAST_ALIPAY_APP_PRIVATE_KEY" in missing.value.message
        and "KNOWCAST_ALIPAY_SELLER_ID" in missing.value.message
    )
