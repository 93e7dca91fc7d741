"""Alipay in the shop, over real HTTP: Knowcast (served on loopback) ↔ the Alipay simulator
(tests/commerce/simulators/alipay.py). The buyer's checkout goes to the simulator's cashier, the signed
notification comes back to /api/v1/payments/alipay/webhook, and every notification that does not match its
payment is refused and leaves the order alone."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from knowcast.accounts.models import Role
from knowcast.commerce import orders, payments
from knowcast.commerce.providers.base import RefundRequest
from knowcast.context import AppContext
from tests.commerce.alipay_fixtures import (
    WEBHOOK,
    AlipayKeys,
    alipay,
    checkout,
    hook_port,
    keys,
    pay_at_cashier,
    pending_order,
    provider_for,
    refusals,
    served_app,
    settings,
    state_of,
)
from tests.commerce.conftest import Shop, wait_for_state
from tests.commerce.simulators.alipay import AlipaySimulator, new_key, rsa2_sign, sign_content

__all__ = ["alipay", "hook_port", "keys", "served_app", "settings"]  # fixtures
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


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
    assert len((await buyer.client.get("/api/v1/library")).json()) == 1
    refunded = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")
    assert refunded.status_code == 200, refunded.text
    [trade] = alipay.trades.values()
    assert (trade.refunded, trade.status) == (6900, "TRADE_CLOSED")
    await alipay.settled()  # Alipay's refund notification comes after; it is welcome and changes nothing
    assert [n.fields.get("out_biz_no") is not None for n in alipay.notifications] == [False, True]
    assert alipay.notifications[-1].answers == ["success"]
    assert await state_of(buyer, order["id"]) == "refunded"
    assert [e for e in (await buyer.client.get("/api/v1/library")).json() if e["active"]] == []


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


async def asked_alipay(ctx: AppContext, alipay: AlipaySimulator) -> None:
    """Run the sweeper's query step until Alipay has been asked (the app's own sweeper may ask first)."""
    for _ in range(100):
        async with ctx.db.session() as session:
            await payments.recover_missed(session, ctx)
        if "alipay.trade.query" in alipay.calls:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("Knowcast never asked Alipay about the payment")


async def test_a_missed_notification_is_recovered_by_query(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, ctx: AppContext, served_app: str
) -> None:
    """Alipay's notification never arrives: the sweeper asks alipay.trade.query and the order is paid."""
    ctx.settings.payment_query_after_seconds = 0
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    alipay.deliver = False
    await pay_at_cashier(await checkout(buyer, order["id"]))
    assert [t.status for t in alipay.trades.values()] == ["TRADE_SUCCESS"]
    assert await state_of(buyer, order["id"]) == "pending"
    await asked_alipay(ctx, alipay)
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    alipay.deliver = True  # the late notification finally comes: it changes nothing
    late = alipay.notifications[-1]
    assert await alipay.send(late, f"{served_app}{WEBHOOK}") == "success"
    assert await state_of(buyer, order["id"]) == "fulfilled"


async def test_an_unpaid_trade_is_not_taken_for_paid(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, ctx: AppContext, served_app: str
) -> None:
    ctx.settings.payment_query_after_seconds = 0
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        await browser.get(await checkout(buyer, order["id"]))  # the cashier is open, nobody paid
    await asked_alipay(ctx, alipay)
    assert await state_of(buyer, order["id"]) == "pending"
    assert alipay.trades[next(iter(alipay.trades))].status == "WAIT_BUYER_PAY"


async def test_an_expired_order_is_closed_at_alipay(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, ctx: AppContext, served_app: str
) -> None:
    from tests.commerce.test_orders import _expire_now

    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer)
    url = await checkout(buyer, order["id"])
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        assert (await browser.get(url)).status_code == 200  # the buyer looked, and walked away
        await _expire_now(ctx, order["id"])
        [trade] = alipay.trades.values()
        for _ in range(100):  # the app's own sweeper may get there first; either way it is the same steps
            async with ctx.db.session() as session:
                await orders.expire_due(session, ctx)
            async with ctx.db.session() as session:
                await payments.close_abandoned(session, ctx)
            if trade.status == "TRADE_CLOSED":
                break
            await asyncio.sleep(0.05)
        assert trade.status == "TRADE_CLOSED" and "alipay.trade.close" in alipay.calls
        refused = await browser.post(f"{alipay.base_url}/cashier/{trade.out_trade_no}/pay")
        assert refused.status_code == 409  # the stock went back: Alipay no longer takes the money
    await alipay.settled()  # Alipay's TRADE_CLOSED notification is welcome and changes nothing
    assert alipay.notifications[-1].answers == ["success"]
    assert await state_of(buyer, order["id"]) == "expired"


async def test_partial_then_full_refund_revoke_what_they_must(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, served_app: str
) -> None:
    """Two courses in one order: a part refunded for one course revokes that course only; the rest refunds the
    order. Each refund's notification from Alipay is welcome and counted once."""
    buyer = await make_user(Role.VIEWER)
    first = await shop.shelved(kind="course", price=6000, title="预算课")
    second = await shop.shelved(kind="course", price=4000, title="基金课")
    items = [{"product_id": first["id"]}, {"product_id": second["id"]}]
    created = await buyer.client.post("/api/v1/orders", json={"items": items})
    assert created.status_code == 201, created.text
    order = created.json()
    await pay_at_cashier(await checkout(buyer, order["id"]))
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    owned = {e["product"]["id"]: e["active"] for e in (await buyer.client.get("/api/v1/library")).json()}
    assert owned == {first["id"]: True, second["id"]: True}

    part = {"amount": 4000, "product_ids": [second["id"]], "reason": "基金课不想学了"}
    partial = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund", json=part)
    assert partial.status_code == 200, partial.text
    [trade] = alipay.trades.values()
    assert (trade.refunded, trade.status) == (4000, "TRADE_SUCCESS")
    await alipay.settled()
    assert alipay.notifications[-1].answers == ["success"]
    assert await state_of(buyer, order["id"]) == "fulfilled"
    owned = {e["product"]["id"]: e["active"] for e in (await buyer.client.get("/api/v1/library")).json()}
    assert owned == {first["id"]: True}  # the refunded course left the library
    too_much = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund", json={"amount": 6001})
    assert too_much.json()["error"]["code"] == "payment.refund_too_large"

    rest = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund", json={})
    assert rest.status_code == 200, rest.text
    assert (trade.refunded, trade.status) == (10000, "TRADE_CLOSED")
    await alipay.settled()
    assert [n.answers for n in alipay.notifications[1:]] == [["success"], ["success"]]
    assert await state_of(buyer, order["id"]) == "refunded"
    assert not any(e["active"] for e in (await buyer.client.get("/api/v1/library")).json())
    assert sorted(r.amount for r in trade.refunds.values()) == [4000, 6000]


async def test_a_refund_made_in_alipays_console_is_recorded(
    shop: Shop, make_user: Any, alipay: AlipaySimulator, served_app: str, keys: AlipayKeys
) -> None:
    """The merchant refunds part of a payment in Alipay's own console: its notification is checked with
    Alipay (fastpay refund query) and recorded; the buyer keeps the course (nothing was named)."""
    buyer = await make_user(Role.VIEWER)
    order = await pending_order(shop, buyer, price=10000)
    await pay_at_cashier(await checkout(buyer, order["id"]))
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    console = provider_for(alipay, keys, f"{served_app}{WEBHOOK}")
    [trade] = alipay.trades.values()
    await console.refund(RefundRequest(trade.out_trade_no, "console-1", 2500, 10000, "CNY", "商家后台退款"))
    await console.close()
    await alipay.settled()
    assert alipay.notifications[-1].answers == ["success"]
    body = (await buyer.client.get(f"/api/v1/orders/{order['id']}")).json()
    assert body["state"] == "fulfilled"
    assert [e["active"] for e in (await buyer.client.get("/api/v1/library")).json()] == [True]
