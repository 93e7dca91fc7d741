"""Alipay in the shop, over real HTTP: Knowcast (served on loopback) ↔ the Alipay simulator
(tests/commerce/simulators/alipay.py). The buyer's checkout goes to the simulator's cashier, the signed
notification comes back to /api/v1/payments/alipay/webhook, and every notification that does not match its
payment is refused and leaves the order alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import uvicorn

from knowcast.accounts.models import Role
from knowcast.context import AppContext
from knowcast.privacy import audit
from knowcast.settings import Settings
from tests.commerce.alipay_fixtures import APP_ID, SELLER_ID, AlipayKeys, app_keys, served
from tests.commerce.conftest import Shop, wait_for_state
from tests.commerce.simulators.alipay import AlipaySimulator, new_key, rsa2_sign, sign_content
from tests.live_server import free_port

WEBHOOK = "/api/v1/payments/alipay/webhook"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


@pytest.fixture
def keys() -> AlipayKeys:
    return app_keys()


@pytest.fixture
def alipay(keys: AlipayKeys) -> Iterator[AlipaySimulator]:
    simulator = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=keys.app_public)
    with served(simulator) as running:
        yield running


@pytest.fixture
def hook_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, alipay: AlipaySimulator, keys: AlipayKeys, hook_port: int) -> Settings:
    """The shop takes Alipay only; its notification URL is the app served below on ``hook_port``."""
    settings.payment_providers = "alipay"
    settings.alipay_app_id = APP_ID
    settings.alipay_app_private_key = keys.app_private
    settings.alipay_public_key = alipay.public_key
    settings.alipay_seller_id = SELLER_ID
    settings.alipay_gateway = alipay.gateway_url
    settings.payment_webhook_url = f"http://127.0.0.1:{hook_port}"
    return settings


@pytest.fixture
async def served_app(app: Any, hook_port: int, alipay: AlipaySimulator) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=hook_port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{hook_port}"
    await alipay.settled()
    server.should_exit = True
    await task


async def pending_order(shop: Shop, buyer: Any, price: int = 6900, **fields: Any) -> dict[str, Any]:
    product = await shop.shelved(kind="course", price=price, **fields)
    response = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def checkout(buyer: Any, order_id: int, method: str = "alipay_wap") -> str:
    response = await buyer.client.post(f"/api/v1/orders/{order_id}/checkout", json={"method": method})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == method and body["qr_code"] is None
    return str(body["checkout_url"])


async def pay_at_cashier(url: str) -> httpx.Response:
    """The buyer's browser on Alipay: open the cashier, check the amount, press pay; returns the redirect home."""
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        cashier = await browser.get(url)
        assert cashier.status_code == 200, cashier.text
        return await browser.post(str(cashier.url).rstrip("/") + "/pay", follow_redirects=False)


async def refusals(ctx: AppContext) -> list[dict[str, Any]]:
    async with ctx.db.session() as session:
        return [dict(e.detail or {}) for e in await audit.recent(session, action="payment.notification_refused")]


async def state_of(buyer: Any, order_id: int) -> str:
    return str((await buyer.client.get(f"/api/v1/orders/{order_id}")).json()["state"])


@pytest.mark.parametrize(("method", "agent"), [("alipay_wap", PHONE), ("alipay_page", DESKTOP)])
async def test_pay_with_alipay_end_to_end(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, served_app: str, method: str, agent: str
) -> None:
    buyer = await make_user(Role.VIEWER)
    offered = (await buyer.client.get("/api/v1/payments/methods", headers={"user-agent": agent})).json()
    assert [m["method"] for m in offered] == [method] and offered[0]["provider"] == "alipay"
    order = await pending_order(shop, buyer)
    url = await checkout(buyer, order["id"], method)
    assert url.startswith(alipay.gateway_url + "?")
    assert await checkout(buyer, order["id"], method) == url  # the open checkout is reused
    sent = dict(parse_qsl(urlsplit(url).query))
    assert sent["notify_url"] == f"{served_app}{WEBHOOK}"
    back = await pay_at_cashier(url)
    assert back.status_code == 302
    landing = urlsplit(back.headers["location"])
    assert landing.path == "/library" and dict(parse_qsl(landing.query))["order"] == str(order["id"])
    paid = await wait_for_state(buyer.client, order["id"], {"paid", "fulfilled"})
    assert paid["total"] == 6900
    await alipay.settled()
    assert [n.answers for n in alipay.notifications] == [["success"]]
    library = (await buyer.client.get("/api/v1/library")).json()
    assert [e["order_id"] for e in library] == [order["id"]]


async def test_notifications_that_do_not_match_are_refused(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, client: Any, ctx: AppContext, served_app: str
) -> None:
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    alipay.deliver = False  # the test delivers each notification itself
    await pay_at_cashier(await checkout(buyer, order["id"]))
    genuine = alipay.notifications[-1].fields

    def post(fields: dict[str, str]) -> Any:
        headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
        return client.post(WEBHOOK, content=urlencode(fields).encode(), headers=headers)

    forged = {k: v for k, v in genuine.items() if k != "sign"}
    forged["sign"] = rsa2_sign(new_key(), sign_content(forged, notification=True))
    for bad in (forged, {**genuine, "total_amount": "0.01"}, {k: v for k, v in genuine.items() if k != "sign"}):
        refused = await post(bad)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "payment.bad_signature")
    # signed by Alipay, yet not this payment: wrong amount, another merchant, another app
    for change in ({"total_amount": "0.01"}, {"seller_id": "2088999999999999"}, {"app_id": "2021999999999999"}):
        wrong = alipay.signed({**genuine, **change})
        answer = await post(wrong)
        assert (answer.status_code, answer.text) == (200, "fail")
    assert await state_of(buyer, order["id"]) == "pending"
    assert sorted(r["mismatch"] for r in await refusals(ctx)) == ["amount", "app", "merchant"]

    assert (await post(genuine)).text == "success"
    assert await state_of(buyer, order["id"]) == "fulfilled"
    replay = await post(genuine)  # Alipay repeats a notification until it hears success
    assert (replay.status_code, replay.text) == (200, "success")
    # out of order: a "closed" and a "waiting" notification that arrive after the payment change nothing
    trade = alipay.trades[genuine["out_trade_no"]]
    late_closed = alipay.signed(alipay.notification_fields(trade, trade_status="TRADE_CLOSED"))
    late_waiting = alipay.signed(alipay.notification_fields(trade, trade_status="WAIT_BUYER_PAY"))
    assert (await post(late_closed)).text == "success"
    assert (await post(late_waiting)).text == "success"
    assert await state_of(buyer, order["id"]) == "fulfilled"
    assert len(await refusals(ctx)) == 3
    library = (await buyer.client.get("/api/v1/library")).json()
    assert [e["order_id"] for e in library] == [order["id"]]


async def test_host_refund_returns_the_money_at_alipay(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, served_app: str
) -> None:
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    await pay_at_cashier(await checkout(buyer, order["id"]))
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    refunded = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")
    assert refunded.status_code == 200, refunded.text
    [trade] = alipay.trades.values()
    assert (trade.refunded, trade.status) == (6900, "TRADE_CLOSED")
    await alipay.settled()  # Alipay's refund notification comes after; it is welcome and changes nothing
    assert [n.fields.get("out_biz_no") is not None for n in alipay.notifications] == [False, True]
    assert alipay.notifications[-1].answers == ["success"]
    assert await state_of(buyer, order["id"]) == "refunded"
    library = (await buyer.client.get("/api/v1/library")).json()
    assert all(not e["active"] for e in library)


async def test_switching_method_closes_the_first_trade_at_alipay(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, served_app: str
) -> None:
    """The buyer opens the phone cashier, then switches to desktop pay: the first trade can no longer be paid."""
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    first = await checkout(buyer, order["id"], "alipay_wap")
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        assert (await browser.get(first)).status_code == 200
        second = await checkout(buyer, order["id"], "alipay_page")
        assert second != first
        [opened] = alipay.trades.values()
        assert opened.status == "TRADE_CLOSED"
        assert (await browser.get(first)).status_code == 409
    await pay_at_cashier(second)
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    assert [t.status for t in alipay.trades.values()] == ["TRADE_CLOSED", "TRADE_SUCCESS"]
