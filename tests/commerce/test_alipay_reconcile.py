"""Reconciliation against Alipay's trade bill (the GBK zip the simulator serves, as Alipay does): a planted
mismatch of each kind is found, announced once as ``payment.mismatch``, and a rerun finds the same."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.commerce import reconcile
from knowcast.context import AppContext
from tests.commerce.alipay_fixtures import (
    alipay,
    checkout,
    hook_port,
    keys,
    pay_at_cashier,
    pending_order,
    served_app,
    settings,
)
from tests.commerce.conftest import Shop, wait_for_state
from tests.commerce.simulators.alipay import CST, AlipaySimulator

__all__ = ["alipay", "hook_port", "keys", "served_app", "settings"]  # fixtures


async def paid(shop: Shop, buyer: Any, alipay: AlipaySimulator, price: int) -> tuple[int, str]:
    """An order paid on Alipay's cashier; returns the order id and our out_trade_no."""
    order = await pending_order(shop, buyer, price=price, title=f"课程 {price}")
    await pay_at_cashier(await checkout(buyer, order["id"]))
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    [reference] = [t.out_trade_no for t in alipay.trades.values() if t.passback == str(order["id"])]
    return order["id"], reference


async def refunded(shop: Shop, alipay: AlipaySimulator, order_id: int, amount: int | None = None) -> str:
    """The host refunds through Knowcast; Alipay answers at once. Returns our refund number (out_request_no)."""
    response = await shop.host.client.post(
        f"/api/v1/orders/{order_id}/refund", json={"amount": amount} if amount else {}
    )
    assert response.status_code == 200, response.text
    await alipay.settled()
    return max((r for t in alipay.trades.values() for r in t.refunds.values()), key=lambda r: r.at).out_request_no


async def test_reconciliation_finds_a_planted_mismatch_of_each_kind(
    shop: Shop, make_user: Any, ctx: AppContext, alipay: AlipaySimulator, served_app: str, seen: list[Event]
) -> None:
    buyer = await make_user(Role.VIEWER)
    _, matching = await paid(shop, buyer, alipay, 1000)
    _, wrong_amount = await paid(shop, buyer, alipay, 2000)
    _, unknown_there = await paid(shop, buyer, alipay, 3000)
    partly, _ = await paid(shop, buyer, alipay, 4000)
    wholly, _ = await paid(shop, buyer, alipay, 5000)
    _, console_refunded = await paid(shop, buyer, alipay, 6000)
    refund_wrong = await refunded(shop, alipay, partly, 1500)
    refund_missing = await refunded(shop, alipay, wholly)
    await wait_for_state(buyer.client, wholly, {"refunded"})
    alipay.deliver = False  # the merchant refunds in Alipay's console, and Knowcast never hears of it
    alipay.console_refund(console_refunded, "console-refund-1", 700)

    alipay.bill_amounts[wrong_amount] = 1900
    alipay.forget(unknown_there)  # we hold it as paid; Alipay has no such trade
    alipay.ghost("kcGHOST-0001", 880)  # money Knowcast never saw
    alipay.bill_refund_amounts[refund_wrong] = 1000
    alipay.bill_dropped_refunds.add(refund_missing)

    today = datetime.now(CST).date()
    report = await reconcile.run(ctx, "alipay", today)
    found = sorted((m.kind, m.reference, m.ours, m.theirs) for m in report.mismatches)
    assert found == sorted(
        [
            ("amount", wrong_amount, 2000, 1900),
            ("knowcast_only", unknown_there, 3000, None),
            ("provider_only", "kcGHOST-0001", None, 880),
            ("refund_amount", refund_wrong, 1500, 1000),
            ("refund_knowcast_only", refund_missing, 5000, None),
            ("refund_provider_only", "console-refund-1", None, 700),
        ]
    )
    assert matching not in {m.reference for m in report.mismatches}
    assert "alipay.data.dataservice.bill.downloadurl.query" in alipay.calls
    announced = [e for e in seen if e.name == "payment.mismatch"]
    assert sorted(e.data["kind"] for e in announced) == sorted(kind for kind, *_ in found)
    again = await reconcile.run(ctx, "alipay", today)  # a rerun sees the same and announces nothing new
    assert len(again.mismatches) == len(found) and again.new == 0
    await asyncio.sleep(0)
    assert len([e for e in seen if e.name == "payment.mismatch"]) == len(announced)


async def test_a_day_without_trades_has_no_bill_and_no_mismatch(ctx: AppContext, alipay: AlipaySimulator) -> None:
    report = await reconcile.run(ctx, "alipay", datetime.now(CST).date())
    assert (report.lines, report.mismatches) == (0, [])
    assert set(alipay.calls) == {"alipay.data.dataservice.bill.downloadurl.query"}  # (the nightly run may ask too)
