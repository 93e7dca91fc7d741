"""WeChat Pay after the checkout: a notification that never came is recovered by query, an expired order's
trade is closed at WeChat Pay, full and partial refunds (ours and the merchant platform's) revoke what they
must. Knowcast over real HTTP against the WeChat Pay simulator; nothing is mocked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from knowcast.accounts.models import Role
from knowcast.commerce import orders, payments
from knowcast.commerce.models import Payment
from knowcast.context import AppContext
from knowcast.settings import Settings
from tests.commerce.conftest import Shop, wait_for_state
from tests.commerce.simulators.wechat import Notification, Refund, WechatSimulator
from tests.commerce.test_orders import _expire_now
from tests.commerce.wechat_support import wechat_keys, wechat_sim, with_wechat

__all__ = ["wechat_keys", "wechat_sim"]  # fixtures
WEBHOOK = "/api/v1/payments/wechat/webhook"


@pytest.fixture
def settings(settings: Settings, wechat_sim: WechatSimulator, tmp_path: Path) -> Settings:
    # the app's own sweeper leaves payments alone here
    return with_wechat(settings, wechat_sim, tmp_path, payment_query_after_seconds=3600)


async def reference_of(ctx: AppContext, order_id: int) -> str:
    async with ctx.db.session() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.order_id == order_id).order_by(Payment.id.desc()).limit(1)
        )
    assert payment is not None
    return payment.reference


async def state_of(buyer: Any, order_id: int) -> str:
    return str((await buyer.client.get(f"/api/v1/orders/{order_id}")).json()["state"])


async def order_with(shop: Shop, buyer: Any, ctx: AppContext, *prices: int) -> tuple[dict[str, Any], str]:
    """A pending order for courses at these prices, with a Native checkout open at WeChat Pay."""
    products = [await shop.shelved(kind="course", price=price, title=f"Course {i}") for i, price in enumerate(prices)]
    body = {"items": [{"product_id": p["id"]} for p in products]}
    order = (await buyer.client.post("/api/v1/orders", json=body)).json()
    answer = await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout", json={"method": "wechat_native"})
    assert answer.status_code == 200, answer.text
    return order, await reference_of(ctx, order["id"])


async def test_a_missed_notification_is_recovered_by_query(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str, wechat_sim: WechatSimulator
) -> None:
    ctx.settings.payment_query_after_seconds = 0
    buyer = await make_user(Role.VIEWER)
    order, reference = await order_with(shop, buyer, ctx, 6900)
    async with ctx.db.session() as session:
        await payments.recover_missed(session, ctx)  # asked while unpaid (NOTPAY): nothing happens
    assert await state_of(buyer, order["id"]) == "pending"
    wechat_sim.deliver = False  # paid on the phone, but WeChat Pay's notification never arrives
    wechat_sim.pay(reference)
    async with ctx.db.session() as session:
        await session.execute(Payment.__table__.update().values(next_query_at=None))
        await session.commit()
        await payments.recover_missed(session, ctx)
    assert await state_of(buyer, order["id"]) in ("fulfilled", "paid")
    assert ("GET", f"/v3/pay/transactions/out-trade-no/{reference}") in wechat_sim.calls
    async with ctx.db.session() as session:
        payment = await session.scalar(select(Payment).where(Payment.reference == reference))
    assert payment is not None and payment.provider_trade_id == wechat_sim.trades[reference].transaction_id
    late = wechat_sim.notifications[-1]  # WeChat Pay's retry, long after: changes nothing
    assert await asyncio.to_thread(wechat_sim.post, late) == 200
    assert late.answers == [200]


async def test_an_expired_order_is_closed_at_wechat_pay(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order, reference = await order_with(shop, buyer, ctx, 6900)
    await _expire_now(ctx, order["id"])
    async with ctx.db.session() as session:
        await orders.expire_due(session, ctx)
        await payments.close_abandoned(session, ctx)
        assert await payments.close_abandoned(session, ctx) == 0
        payment = await session.scalar(select(Payment).where(Payment.reference == reference))
    assert payment is not None and payment.closed_at is not None
    assert wechat_sim.trades[reference].state == "CLOSED"
    # closed at WeChat Pay (the app's own sweeper may have closed it too, at the same moment: harmless)
    assert ("POST", f"/v3/pay/transactions/out-trade-no/{reference}/close") in wechat_sim.calls
    async with httpx.AsyncClient() as phone:  # the buyer scans the old QR code: WeChat Pay refuses
        late = await phone.post(wechat_sim.base_url + "/sim/pay", data={"out_trade_no": reference})
    assert late.status_code == 400 and wechat_sim.trades[reference].transaction_id is None
    assert await state_of(buyer, order["id"]) == "expired"


async def test_a_trade_paid_just_before_expiry_is_not_lost(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str, wechat_sim: WechatSimulator
) -> None:
    """The buyer paid as the hold ran out and the notification is late: closing finds the trade paid
    (ORDERPAID) and the money goes back, since the order is over."""
    buyer = await make_user(Role.VIEWER)
    order, reference = await order_with(shop, buyer, ctx, 6900)
    wechat_sim.deliver = False
    wechat_sim.pay(reference)
    await _expire_now(ctx, order["id"])
    async with ctx.db.session() as session:
        await orders.expire_due(session, ctx)
        await payments.close_abandoned(session, ctx)
    assert wechat_sim.trades[reference].state == "REFUND"
    assert [r.amount for r in wechat_sim.refunds.values()] == [6900]
    assert await state_of(buyer, order["id"]) == "expired"


async def test_full_and_partial_refunds_revoke_what_they_must(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str, wechat_sim: WechatSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order, reference = await order_with(shop, buyer, ctx, 6000, 3000)
    wechat_sim.pay(reference)
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    refund = f"/api/v1/orders/{order['id']}/refund"
    second = order["items"][1]["product_id"]

    too_much = await shop.host.client.post(refund, json={"amount": 9001})
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (422, "payment.refund_too_large")
    partial = await shop.host.client.post(refund, json={"amount": 3000, "product_ids": [second]})
    assert partial.status_code == 200 and partial.json()["state"] == "fulfilled"
    ours = next(iter(wechat_sim.refunds.values()))
    assert (ours.amount, ours.trade.out_trade_no) == (3000, reference)
    # WeChat Pay answered PROCESSING; its REFUND.SUCCESS notification finishes the refund
    await answered(wechat_sim.notifications[-1])
    library = {e["product"]["title"]: e["active"] for e in (await buyer.client.get("/api/v1/library")).json()}
    assert library == {"Course 0": True}  # the refunded course is taken back, the other kept
    assert await state_of(buyer, order["id"]) == "fulfilled"

    rest = await shop.host.client.post(refund)
    assert rest.status_code == 200
    await answered(wechat_sim.notifications[-1])
    await wait_for_state(buyer.client, order["id"], {"refunded"})
    assert sorted(r.amount for r in wechat_sim.refunds.values()) == [3000, 6000]
    assert wechat_sim.trades[reference].refunded == 9000
    assert (await buyer.client.get("/api/v1/library")).json() == []
    assert (await shop.host.client.post(refund)).status_code == 409
    again = wechat_sim.notifications[-1]  # WeChat Pay repeats the last notification: nothing changes
    assert await asyncio.to_thread(wechat_sim.post, again) == 200
    assert await state_of(buyer, order["id"]) == "refunded"


async def answered(note: Notification) -> None:
    """Wait (bounded) until Knowcast has answered a notification the simulator sent; it must be 2xx."""
    for _ in range(250):
        if note.answers:
            break
        await asyncio.sleep(0.02)
    assert note.answers == [200], note.event_type


async def test_refunds_made_in_the_merchant_platform(
    shop: Shop, make_user: Any, client: Any, ctx: AppContext, wechat_sim: WechatSimulator
) -> None:
    """The merchant refunds in pay.weixin.qq.com, not in Knowcast: WeChat Pay's REFUND.SUCCESS notifications
    are recorded; a part keeps the order, more than was paid is refused, the rest refunds it."""
    buyer = await make_user(Role.VIEWER)
    order, reference = await order_with(shop, buyer, ctx, 10000)
    wechat_sim.deliver = False
    wechat_sim.pay(reference)
    paid = wechat_sim.notifications[-1]
    assert (await client.post(WEBHOOK, content=paid.body, headers=paid.headers)).json()["result"] == "paid"

    part = wechat_sim.merchant_refund(reference, 3000)
    note = wechat_sim.notifications[-1]
    answer = await client.post(WEBHOOK, content=note.body, headers=note.headers)
    assert answer.json()["result"] == "partially_refunded"
    assert await state_of(buyer, order["id"]) == "fulfilled"
    trade = wechat_sim.trades[reference]
    forged_amount = Refund("MPTOOMUCH01", "50TOOMUCH", trade, 8000, None, None, part.created)
    too_much = wechat_sim.refund_notification(forged_amount)
    answer = await client.post(WEBHOOK, content=too_much.body, headers=too_much.headers)
    assert (answer.status_code, answer.json()["result"]) == (400, "refused_amount")
    wechat_sim.merchant_refund(reference, 7000)
    rest = wechat_sim.notifications[-1]
    assert (await client.post(WEBHOOK, content=rest.body, headers=rest.headers)).json()["result"] == "refunded"
    assert await state_of(buyer, order["id"]) == "refunded"
    assert (await buyer.client.get("/api/v1/library")).json() == []
