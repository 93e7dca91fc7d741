"""Reconciliation against WeChat Pay's trade bill: the simulator's bill (WeChat's CSV, gzipped, with its
SHA1) is planted with one difference of each kind, and the day's run finds exactly those, announces each new
one as ``payment.mismatch`` once, and finds the same again on a rerun without announcing them twice."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.commerce import reconcile
from knowcast.context import AppContext
from knowcast.settings import Settings
from tests.commerce.conftest import Shop, wait_for_state
from tests.commerce.simulators.wechat import CST, WechatSimulator
from tests.commerce.test_wechat_lifecycle import answered, order_with
from tests.commerce.wechat_support import wechat_keys, wechat_sim, with_wechat

__all__ = ["wechat_keys", "wechat_sim"]  # fixtures


@pytest.fixture
def settings(settings: Settings, wechat_sim: WechatSimulator, tmp_path: Path) -> Settings:
    return with_wechat(settings, wechat_sim, tmp_path, payment_query_after_seconds=3600)


async def paid(shop: Shop, buyer: Any, ctx: AppContext, sim: WechatSimulator, price: int) -> tuple[int, str]:
    order, reference = await order_with(shop, buyer, ctx, price)
    sim.pay(reference)
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    return order["id"], reference


async def refunded(shop: Shop, sim: WechatSimulator, order_id: int, amount: int | None = None) -> str:
    """The host refunds through Knowcast and WeChat Pay confirms; returns our out_refund_no."""
    body = {"amount": amount} if amount else None
    response = await shop.host.client.post(f"/api/v1/orders/{order_id}/refund", json=body)
    assert response.status_code == 200, response.text
    note = sim.notifications[-1]
    await answered(note)
    assert note.event_type == "REFUND.SUCCESS"
    return list(sim.refunds)[-1]


async def test_reconciliation_finds_a_planted_mismatch_of_each_kind(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str, wechat_sim: WechatSimulator, seen: list[Event]
) -> None:
    buyer = await make_user(Role.VIEWER)
    _, matching = await paid(shop, buyer, ctx, wechat_sim, 1000)
    _, wrong_amount = await paid(shop, buyer, ctx, wechat_sim, 2000)
    _, unknown_there = await paid(shop, buyer, ctx, wechat_sim, 3000)
    partly, _ = await paid(shop, buyer, ctx, wechat_sim, 4000)
    wholly, _ = await paid(shop, buyer, ctx, wechat_sim, 5000)
    _, platform_refunded = await paid(shop, buyer, ctx, wechat_sim, 6000)
    refund_wrong = await refunded(shop, wechat_sim, partly, 1500)
    refund_missing = await refunded(shop, wechat_sim, wholly)
    await wait_for_state(buyer.client, wholly, {"refunded"})
    wechat_sim.deliver = False  # the merchant refunds in the merchant platform; Knowcast never hears of it
    platform = wechat_sim.merchant_refund(platform_refunded, 700)

    wechat_sim.plant("amount", wrong_amount, 1900)
    wechat_sim.forget(unknown_there)  # we hold it as paid; WeChat Pay has no such trade
    wechat_sim.plant("extra", value=("kcGHOST-0001", 880))  # money Knowcast never saw
    wechat_sim.plant("refund_amount", refund_wrong, 1000)
    wechat_sim.plant("drop_refund", refund_missing)

    today = datetime.now(CST).date()
    report = await reconcile.run(ctx, "wechat", today)
    found = sorted((m.kind, m.reference, m.ours, m.theirs) for m in report.mismatches)
    assert found == sorted(
        [
            ("amount", wrong_amount, 2000, 1900),
            ("knowcast_only", unknown_there, 3000, None),
            ("provider_only", "kcGHOST-0001", None, 880),
            ("refund_amount", refund_wrong, 1500, 1000),
            ("refund_knowcast_only", refund_missing, 5000, None),
            ("refund_provider_only", platform.out_refund_no, None, 700),
        ]
    )
    assert matching not in {m.reference for m in report.mismatches}
    announced = [e for e in seen if e.name == "payment.mismatch"]
    assert sorted(e.data["kind"] for e in announced) == sorted(kind for kind, *_ in found)
    again = await reconcile.run(ctx, "wechat", today)  # a rerun sees the same, announces nothing new
    assert len(again.mismatches) == len(found) and again.new == 0
    await asyncio.sleep(0)
    assert len([e for e in seen if e.name == "payment.mismatch"]) == len(announced)


async def test_a_day_without_trades_has_no_bill_and_no_mismatch(ctx: AppContext, wechat_sim: WechatSimulator) -> None:
    report = await reconcile.run(ctx, "wechat", datetime.now(CST).date())
    assert (report.lines, report.mismatches) == (0, [])
    assert ("GET", "/v3/bill/tradebill") in wechat_sim.calls
