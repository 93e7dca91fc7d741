"""The optimizer for R = A × P × V (issue #17 §4), on synthetic shops whose true channel curves, price elasticity
and interaction effects are known: its recommendation earns within 5 % of the true optimum's expected R, its
stated range covers the truth, and a thin history gets no recommendation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from knowcast.analytics import optimizer as opt

PRICE = 9900  # today's price (fen)


@dataclass(frozen=True)
class TrueShop:
    channels: dict[str, tuple[float, float]]  # channel → (a, b): viewers = a (1 − e^(−spend/b))
    unpaid: float
    conversion: float  # at today's price and the average cadence
    elasticity: float
    effects: dict[str, float]  # per poll / draw / drop per hour, on log P
    mean_cadence: dict[str, float]

    def viewers(self, spend: dict[str, float]) -> float:
        return self.unpaid + sum(a * (1 - math.exp(-spend.get(c, 0.0) / b)) for c, (a, b) in self.channels.items())

    def p(self, ratio: float, cadence: dict[str, float]) -> float:
        shift = sum(g * (cadence[k] - self.mean_cadence[k]) for k, g in self.effects.items())
        return self.conversion * ratio**self.elasticity * math.exp(shift)

    def revenue(self, spend: dict[str, float], ratio: float, cadence: dict[str, float]) -> float:
        return self.viewers(spend) * self.p(ratio, cadence) * PRICE * ratio


def history(shop: TrueShop, streams: int, seed: int) -> list[opt.PastStream]:
    """Past streams with varied spends, prices and cadences; viewers Poisson, buyers binomial."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(streams):
        spend = {c: float(rng.choice([0, 1, 1]) * rng.uniform(5_000, 400_000)) for c in shop.channels}
        ratio = float(rng.uniform(0.7, 1.3))
        hours = 2.0
        counts = {k: int(rng.integers(0, 7)) for k in opt.KINDS}
        cadence = {k: counts[k] / hours for k in opt.KINDS}
        paid = {c: int(rng.poisson(a * (1 - math.exp(-spend[c] / b)))) for c, (a, b) in shop.channels.items()}
        unpaid = int(rng.poisson(shop.unpaid))
        uv = unpaid + sum(paid.values())
        buyers = int(rng.binomial(uv, min(1.0, shop.p(ratio, cadence))))
        out.append(
            opt.PastStream(
                hours=hours,
                unpaid=unpaid,
                spend={c: (int(spend[c]), paid[c]) for c in shop.channels if spend[c] > 0},
                uv=uv,
                buyers=buyers,
                gmv=round(buyers * PRICE * ratio),
                **counts,
            )
        )
    return out


def true_optimum(shop: TrueShop, model: opt.Model, limits: opt.Constraints) -> float:
    """The best expected R in the same feasible set (the budget, the allowed and tried price ratios and
    cadences), by brute force over a fine grid: the truth, not the optimizer's own reasoning."""
    low = max(limits.min_price_ratio, model.price_range[0])
    high = min(limits.max_price_ratio, model.price_range[1])
    best_ratio = max(np.linspace(low, high, 61), key=lambda m: m * shop.p(m, shop.mean_cadence))
    cadence = {k: max(np.linspace(*model.cadence_range[k], 13), key=lambda c: shop.effects[k] * c) for k in opt.KINDS}
    names = list(shop.channels)
    best_viewers = 0.0
    for share in np.linspace(0, 1, 201):
        spend = {names[0]: share * limits.budget, names[1]: (1 - share) * limits.budget}
        best_viewers = max(best_viewers, shop.viewers(spend))
    return best_viewers * shop.p(float(best_ratio), cadence) * PRICE * float(best_ratio)


SHOPS = [
    TrueShop(
        {"douyin": (900, 120_000), "wechat": (400, 30_000)},
        600,
        0.03,
        -1.8,
        {"polls": 0.08, "draws": 0.05, "drops": -0.03},
        {k: 1.5 for k in opt.KINDS},
    ),
    TrueShop(
        {"douyin": (300, 50_000), "weibo": (1200, 250_000)},
        900,
        0.02,
        -0.6,
        {"polls": -0.04, "draws": 0.1, "drops": 0.06},
        {k: 1.5 for k in opt.KINDS},
    ),
]


@pytest.mark.parametrize("index", range(len(SHOPS)))
def test_the_recommendation_earns_within_five_percent_of_the_true_optimum(index: int) -> None:
    shop = SHOPS[index]
    limits = opt.Constraints(budget=300_000, min_price_ratio=0.8, max_price_ratio=1.25)
    past = history(shop, 60, seed=index)
    answer = opt.recommend(past, limits)
    assert answer["enough"] is True
    model = opt.learn([s for s in past if s.uv])
    spend = {c: float(x) for c, x in answer["budget"].items()}
    assert sum(spend.values()) <= limits.budget + 1
    cadence = answer["cadence_per_hour"]
    earned = shop.revenue(spend, answer["price_ratio"], cadence)
    best = true_optimum(shop, model, limits)
    assert earned >= 0.95 * best, (earned, best)
    low, high = answer["ranges"]["R95"]
    assert low <= earned <= high  # the stated uncertainty covers the truth at the recommendation
    rests = answer["rests_on"]
    assert {c["channel"] for c in rests["channels"]} == set(shop.channels)
    assert rests["elasticity"]["source"] == "history"
    assert abs(rests["elasticity"]["value"] - shop.elasticity) < 3 * rests["elasticity"]["se"] + 0.05


def test_a_thin_history_gets_no_recommendation() -> None:
    answer = opt.recommend(history(SHOPS[0], 4, seed=9), opt.Constraints(budget=100_000))
    assert answer == {"enough": False, "streams": 4, "note": "thin_history", "min_streams": opt.MIN_STREAMS}


def test_a_channel_with_too_few_spends_gets_no_money_and_is_named() -> None:
    past = history(SHOPS[0], 30, seed=4)
    thin = [
        opt.PastStream(
            s.hours,
            s.unpaid,
            {**s.spend, "xiaohongshu": (50_000, 40)} if i < 2 else s.spend,
            s.uv,
            s.buyers,
            s.gmv,
            s.polls,
            s.draws,
            s.drops,
        )
        for i, s in enumerate(past)
    ]
    answer = opt.recommend(thin, opt.Constraints(budget=200_000))
    assert "xiaohongshu" not in answer["budget"] and answer["rests_on"]["untested_channels"] == ["xiaohongshu"]


async def test_the_api_and_the_page_say_when_the_history_is_thin(stage: Any) -> None:
    c = stage.host.client
    answer = await c.post("/api/v1/analytics/optimize", json={"budget": 100000, "min_price_ratio": 0.8})
    assert answer.status_code == 200 and answer.json()["note"] == "thin_history"
    bad = await c.post("/api/v1/analytics/optimize", json={"budget": -1})
    assert bad.status_code == 422
    page = await c.get("/studio/analytics/forecasts", params={"cap": "1000", "floor": "80"})
    assert page.status_code == 200 and 'data-testid="optimize-thin"' in page.text
    assert (await c.get("/studio/analytics/forecasts", params={"cap": "lots"})).status_code == 422


async def test_the_optimizer_learns_from_the_stored_history(stage: Any, ctx: Any) -> None:
    """Streams written through the store like live ones, ad costs entered per channel, polls as markers: the
    optimizer reads them (past_streams) and recommends a split over the channel that was paid for."""
    from datetime import UTC, datetime, timedelta

    from knowcast.analytics import models as m
    from knowcast.analytics import planner
    from knowcast.analytics.records import Record
    from knowcast.analytics.runtime import AnalyticsRuntime
    from knowcast.analytics.store import Batch

    host = stage.host.user.id
    rng = np.random.default_rng(5)
    batch = Batch()
    costs = []
    start = datetime(2026, 6, 6, 12, tzinfo=UTC)
    for i in range(8):
        room, at = 7000 + i, start + timedelta(days=7 * i)
        batch.rooms[room] = {"host_id": host, "state": "ended", "started_at": at, "ended_at": at + timedelta(hours=2)}
        spend = int(rng.uniform(10_000, 200_000))
        costs.append(m.Cost(host_id=host, room_id=room, category="ads", channel="douyin", amount=spend, currency="CNY"))
        paid_viewers = int(300 * (1 - math.exp(-spend / 80_000)))
        for v in range(40 + paid_viewers):
            channel = "douyin" if v < paid_viewers else "direct"
            common = {"visitor": f"p:{room}-{v}", "view_id": f"v{room}-{v}", "host_id": host, "channel": channel}
            batch.records.append(Record("view_start", room, at, **common))
            batch.records.append(Record("heartbeat", room, at + timedelta(seconds=15), watched=15, **common))
            if v % 25 == 0:
                batch.records.append(
                    Record(
                        "order_paid",
                        room,
                        at,
                        visitor=common["visitor"],
                        host_id=host,
                        amount=9900,
                        order_id=room * 1000 + v,
                        user_key=f"k{room}-{v}",
                    )
                )
        for _ in range(i % 4):
            batch.records.append(Record("marker", room, at, host_id=host, data={"type": "poll", "label": "?"}))
    await ctx.runtime(AnalyticsRuntime).store.write(batch, {})
    async with ctx.db.session() as session:
        session.add_all(costs)
        await session.commit()
        past = await planner.past_streams(session, host)
    assert len(past) == 8 and all("douyin" in s.spend and s.unpaid == 40 for s in past)
    assert [s.polls for s in past] == [i % 4 for i in range(8)]
    answer = (await stage.host.client.post("/api/v1/analytics/optimize", json={"budget": 150000})).json()
    assert answer["enough"] is True and set(answer["budget"]) == {"douyin"} and answer["budget"]["douyin"] > 0
    assert answer["ranges"]["R80"][0] <= answer["expected"]["R"] <= answer["ranges"]["R80"][1] * 1.5
