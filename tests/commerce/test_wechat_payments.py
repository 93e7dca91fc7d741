"""WeChat Pay end to end: Knowcast (served over real HTTP on loopback) with KNOWCAST_PAYMENT_PROVIDERS=wechat,
against the WeChat Pay simulator; the buyer pays on the simulator, whose signed, encrypted notifications
come back to /api/v1/payments/wechat/webhook. Nothing is mocked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from knowcast.accounts.models import Role
from knowcast.commerce import wechat_oauth
from knowcast.context import AppContext
from knowcast.privacy.models import AuditEntry
from knowcast.settings import Settings
from tests.commerce.conftest import Shop, wait_for_state
from tests.commerce.simulators.wechat import WechatSimulator
from tests.commerce.wechat_support import wechat_keys, wechat_sim, with_wechat

__all__ = ["wechat_keys", "wechat_sim"]  # fixtures
WEBHOOK = "/api/v1/payments/wechat/webhook"


@pytest.fixture
def settings(settings: Settings, wechat_sim: WechatSimulator, tmp_path: Path) -> Settings:
    """The test settings with WeChat Pay as the only provider, its keys written as a merchant would."""
    return with_wechat(settings, wechat_sim, tmp_path)


async def pending_order(shop: Shop, buyer: Any, price: int = 6900, **fields: Any) -> dict[str, Any]:
    product = await shop.shelved(kind="course", price=price, **fields)
    response = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def checkout(buyer: Any, order_id: int, method: str, **headers: str) -> dict[str, Any]:
    response = await buyer.client.post(f"/api/v1/orders/{order_id}/checkout", json={"method": method}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def reference_of(sim: WechatSimulator, order_id: int) -> str:
    return next(t.out_trade_no for t in reversed(sim.trades.values()) if t.attach == str(order_id))


async def state_of(buyer: Any, order_id: int) -> str:
    return str((await buyer.client.get(f"/api/v1/orders/{order_id}")).json()["state"])


async def test_native_qr_code_paid_on_the_phone(
    shop: Shop, make_user: Any, webhook_server: str, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    answer = await checkout(buyer, order["id"], "wechat_native")
    assert answer["method"] == "wechat_native" and answer["checkout_url"] == ""
    assert answer["qr_code"].startswith("weixin://wxpay/bizpayurl?pr=")
    drawn = await buyer.client.get(f"/checkout/{order['id']}/qr.svg")  # what the desktop page shows
    assert drawn.headers["content-type"] == "image/svg+xml" and 'xmlns="http://www.w3.org/2000/svg"' in drawn.text
    again = await checkout(buyer, order["id"], "wechat_native")  # the QR page reloads: the same code
    assert again["qr_code"] == answer["qr_code"] and len(wechat_sim.trades) == 1
    trade = wechat_sim.trades[reference_of(wechat_sim, order["id"])]
    assert trade.notify_url == webhook_server + WEBHOOK and trade.total == 6900
    async with httpx.AsyncClient() as phone:
        page = await phone.get(wechat_sim.scan_url(answer["qr_code"]))
        assert "¥69.00" in page.text
        paid = await phone.post(wechat_sim.base_url + "/sim/pay", data={"out_trade_no": trade.out_trade_no})
        assert paid.status_code == 200
    body = await wait_for_state(buyer.client, order["id"], {"fulfilled", "paid"})
    assert body["state"] in ("fulfilled", "paid")
    note = wechat_sim.notifications[-1]
    for _ in range(200):  # the answer reaches the simulator's thread just after the order changed
        if note.answers:
            break
        await asyncio.sleep(0.02)
    assert note.answers == [200]
    library = (await buyer.client.get("/api/v1/library")).json()
    assert [item["product"]["id"] for item in library] == [order["items"][0]["product_id"]]


async def test_h5_in_a_phone_browser_returns_to_the_room(
    shop: Shop, make_user: Any, webhook_server: str, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    answer = await checkout(buyer, order["id"], "wechat_h5")
    cashier = answer["checkout_url"]
    assert cashier.startswith(wechat_sim.base_url + "/sim/h5") and answer["qr_code"] is None
    back = parse_qs(urlsplit(cashier).query)["redirect_url"][0]
    assert back.endswith(f"?order={order['id']}")  # the room or the library, where the order came from
    async with httpx.AsyncClient() as phone:
        assert "确认支付" in (await phone.get(cashier)).text
        form = {"out_trade_no": reference_of(wechat_sim, order["id"]), "redirect_url": back}
        paid = await phone.post(wechat_sim.base_url + "/sim/pay", data=form)
    assert paid.status_code == 303 and paid.headers["location"] == back
    await wait_for_state(buyer.client, order["id"], {"fulfilled", "paid"})


async def test_jsapi_inside_wechat_learns_the_openid_silently_then_pays(
    shop: Shop, make_user: Any, webhook_server: str, wechat_sim: WechatSimulator, ctx: AppContext
) -> None:
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    wechat_agent = {"user-agent": "Mozilla/5.0 (iPhone) AppleWebKit Mobile MicroMessenger/8.0.50"}
    methods = (await buyer.client.get("/api/v1/payments/methods", headers=wechat_agent)).json()
    assert methods[0]["method"] == "wechat_jsapi"
    first = await checkout(buyer, order["id"], "wechat_jsapi")
    assert first["jsapi"] is None and first["checkout_url"].startswith("/pay/wechat/oauth?")
    to_wechat = await buyer.client.get(first["checkout_url"])
    assert to_wechat.status_code == 302
    authorize = to_wechat.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(wechat_sim.base_url + "/connect/oauth2/authorize?")
    assert authorize.endswith("#wechat_redirect") and query["scope"] == ["snsapi_base"]
    async with httpx.AsyncClient() as wechat_browser:
        back = await wechat_browser.get(authorize.split("#")[0])
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/pay/wechat/oauth/callback"
    stolen = await buyer.client.get(f"{callback.path}?{callback.query.replace('state=', 'state=x')}")
    assert stolen.status_code == 422 and "payment.oauth_state" in stolen.text  # an error page: a browser is here
    assert "这次微信授权不是从本站发起的" in stolen.text
    landed = await buyer.client.get(f"{callback.path}?{callback.query}")
    assert landed.status_code == 303 and landed.headers["location"] == f"/checkout/{order['id']}?pay=wechat_jsapi"
    cookie = buyer.client.cookies.get(wechat_oauth.OPENID_COOKIE)
    assert wechat_oauth.openid_from(ctx.settings, buyer.user.id, cookie) == wechat_sim.openid
    assert wechat_oauth.openid_from(ctx.settings, buyer.user.id + 1, cookie) is None  # bound to the account
    second = await checkout(buyer, order["id"], "wechat_jsapi")
    params = second["jsapi"]
    assert params["appId"] == wechat_sim.keys.appid and params["package"].startswith("prepay_id=")
    trade = wechat_sim.trades[reference_of(wechat_sim, order["id"])]
    assert trade.trade_type == "JSAPI" and trade.openid == wechat_sim.openid
    async with httpx.AsyncClient() as bridge:
        result = await bridge.post(wechat_sim.base_url + "/sim/jsapi", json=params)
    assert result.json()["err_msg"] == "get_brand_wcpay_request:ok"
    await wait_for_state(buyer.client, order["id"], {"fulfilled", "paid"})


async def test_oauth_refuses_foreign_redirects_and_bad_codes(
    shop: Shop, make_user: Any, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    away = await buyer.client.get("/pay/wechat/oauth?order=1&next=//evil.example/x")
    assert away.status_code == 422
    start = await buyer.client.get("/pay/wechat/oauth?order=1")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    bad = await buyer.client.get(f"/pay/wechat/oauth/callback?next=/checkout/1&code=nope&state={state}")
    assert bad.status_code == 409 and "payment.oauth_failed" in bad.text
    assert (await make_user(Role.VIEWER)).client.cookies.get(wechat_oauth.OPENID_COOKIE) is None


async def paid_trade(shop: Shop, buyer: Any, sim: WechatSimulator, price: int = 6900) -> tuple[dict[str, Any], str]:
    """An order with a Native checkout that the buyer paid on WeChat, its notification held back."""
    order = await pending_order(shop, buyer, price=price)
    await checkout(buyer, order["id"], "wechat_native")
    reference = reference_of(sim, order["id"])
    sim.deliver = False
    sim.pay(reference)
    return order, reference


async def post(client: Any, body: bytes, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = await client.post(WEBHOOK, content=body, headers=headers)
    return response


async def test_notifications_that_do_not_match_the_order_are_refused_and_audited(
    shop: Shop, make_user: Any, client: Any, ctx: AppContext, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order, reference = await paid_trade(shop, buyer, wechat_sim)
    trade = wechat_sim.trades[reference]
    wrong = {
        "amount": wechat_sim.transaction_notification(trade, amount={"total": 1, "currency": "CNY"}),
        "currency": wechat_sim.transaction_notification(trade, amount={"total": 6900, "currency": "USD"}),
        "merchant": wechat_sim.transaction_notification(trade, mchid="1900000001"),
        "app": wechat_sim.transaction_notification(trade, appid="wx0000000000000000"),
        "order": wechat_sim.transaction_notification(trade, attach=str(order["id"] + 1000)),
    }
    for what, note in wrong.items():
        answer = await post(client, note.body, note.headers)
        assert (answer.status_code, answer.json()["result"]) == (400, f"refused_{what}"), what
    assert await state_of(buyer, order["id"]) == "pending"
    async with ctx.db.session() as session:
        refused = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "payment.notification_refused"))
        )
    assert sorted(entry.detail["mismatch"] for entry in refused) == sorted(wrong)
    good = wechat_sim.notifications[-1]
    assert (await post(client, good.body, good.headers)).json()["result"] == "paid"
    assert await state_of(buyer, order["id"]) in ("fulfilled", "paid")


async def test_forged_tampered_and_replayed_notifications_over_http(
    shop: Shop, make_user: Any, client: Any, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order, reference = await paid_trade(shop, buyer, wechat_sim)
    good = wechat_sim.notifications[-1]
    from cryptography.hazmat.primitives.asymmetric import rsa

    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = wechat_sim.transaction_notification(wechat_sim.trades[reference])
    forged_headers = wechat_sim.signed_headers(forged.body, key=forger)
    tampered = good.body.replace(b'"summary":"', b'"summary":"!', 1)
    for body, headers in [(forged.body, forged_headers), (tampered, good.headers), (good.body, {})]:
        answer = await post(client, body, headers)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "payment.bad_signature"
    assert await state_of(buyer, order["id"]) == "pending"
    assert (await post(client, good.body, good.headers)).json()["result"] == "paid"
    replay = await post(client, good.body, good.headers)
    assert (replay.status_code, replay.json()["result"]) == (200, "duplicate")


async def test_a_refund_notification_that_overtakes_its_payment(
    shop: Shop, make_user: Any, client: Any, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order, reference = await paid_trade(shop, buyer, wechat_sim)
    paid = wechat_sim.notifications[-1]
    from tests.commerce.simulators.wechat import Refund

    trade = wechat_sim.trades[reference]
    refund = Refund("rfOUTOFORDER1", "50000001", trade, trade.total, None, trade.notify_url, trade.success_time)  # type: ignore[arg-type]
    early = wechat_sim.refund_notification(refund)
    assert (await post(client, early.body, early.headers)).json()["result"] == "refunded"
    late = await post(client, paid.body, paid.headers)
    assert late.status_code == 200 and late.json()["result"] == "stale"
    assert await state_of(buyer, order["id"]) == "refunded"


async def test_the_host_refunds_and_wechat_confirms(
    shop: Shop, make_user: Any, webhook_server: str, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order, reference = await paid_trade(shop, buyer, wechat_sim)
    wechat_sim.deliver = True
    note = wechat_sim.notifications[-1]
    assert await asyncio.to_thread(wechat_sim.post, note) == 200  # WeChat retries the held one
    await wait_for_state(buyer.client, order["id"], {"fulfilled", "paid"})
    refunded = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")
    assert refunded.status_code == 200, refunded.text
    refund = next(r for r in wechat_sim.refunds.values() if r.trade.out_trade_no == reference)
    assert refund.amount == 6900 and refund.notify_url == webhook_server + WEBHOOK
    # WeChat Pay answers PROCESSING: the order is refunded when its REFUND.SUCCESS notification arrives
    assert (await wait_for_state(buyer.client, order["id"], {"refunded"}))["state"] == "refunded"
    assert (await buyer.client.get("/api/v1/library")).json() == []
