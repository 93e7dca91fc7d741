"""The revenue planner: what-if on ad budget per channel, interaction plan and price, from the shop's own
history, giving R = A × P × V with its uncertainty (Monte Carlo over the estimates' errors).

- A (audience): the usual unpaid audience (mean UV from channels with no ad spend) plus, per channel, the
  budget times viewers per unit of spend measured on past streams with spend there.
- P (conversion): past pooled conversion, moved along log P = a + b · interaction rate (least squares over
  past streams, when they vary enough), and by price: P × (1 + Δprice)^ε with ε the elasticity of
  conversion to price from price experiments (log-ratio of conversion over log-ratio of price between a
  variant and control), else an assumed ε = −1 ± 0.5, which the answer says.
- V (value per buyer): past value per buyer × (1 + Δprice).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import facts_read, optimizer
from knowcast.analytics import models as m
from knowcast.analytics.records import MIN_VIEW_SECONDS
from knowcast.analytics.schemas import PlanIn

DRAWS = 4000
ASSUMED_ELASTICITY = (-1.0, 0.5)
MIN_STREAMS = 2


async def _channel_history(session: AsyncSession, host_id: int) -> tuple[dict[str, list[tuple[int, int]]], list[int]]:
    """Per channel, (spend, viewers) of each past stream with spend there; and each stream's unpaid viewers."""
    spend: dict[tuple[int, str], int] = defaultdict(int)
    query = select(m.Cost.room_id, m.Cost.channel, func.sum(m.Cost.amount)).where(
        m.Cost.host_id == host_id, m.Cost.category == "ads"
    )
    for room_id, channel, amount in await session.execute(query.group_by(m.Cost.room_id, m.Cost.channel)):
        spend[(room_id, channel)] += int(amount or 0)
    V = m.RoomVisitor
    viewers = (
        select(V.room_id, V.channel, func.count())
        .where(V.host_id == host_id, V.watched_seconds >= MIN_VIEW_SECONDS)
        .group_by(V.room_id, V.channel)
    )
    per_channel: dict[str, list[tuple[int, int]]] = defaultdict(list)
    unpaid: dict[int, int] = defaultdict(int)
    for room_id, channel, count in await session.execute(viewers):
        paid = spend.get((room_id, channel or "direct"), 0)
        if paid:
            per_channel[channel or "direct"].append((paid, int(count)))
        else:
            unpaid[room_id] += int(count)
    return per_channel, list(unpaid.values())


async def _elasticity(session: AsyncSession, host_id: int) -> tuple[float, float, bool]:
    from knowcast.analytics.experiments import analyse

    found = []
    query = select(m.Experiment).where(m.Experiment.host_id == host_id, m.Experiment.subject == "price")
    for experiment in await session.scalars(query):
        result = await analyse(session, experiment)
        control = result["variants"][0]
        for spec, variant in zip(experiment.variants[1:], result["variants"][1:], strict=True):
            change = float(spec.get("payload", {}).get("price_change", 0) or 0)
            if change and control["rate"] and variant["rate"]:
                found.append(math.log(variant["rate"] / control["rate"]) / math.log1p(change))
    if not found:
        return (*ASSUMED_ELASTICITY, False)
    spread = statistics.stdev(found) if len(found) > 1 else abs(found[0]) * 0.5
    return statistics.fmean(found), spread, True


def _slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    if len(xs) < 3 or statistics.pstdev(xs) < 1e-9:
        return 0.0, 0.0
    fit = np.polyfit(xs, ys, 1, cov=True)
    return float(fit[0][0]), float(math.sqrt(max(fit[1][0][0], 0.0)))


async def plan(session: AsyncSession, host_id: int, data: PlanIn, seed: int = 7) -> dict[str, Any]:
    streams = [s for s in await facts_read.streams_of(session, host_id) if s.ended_at and s.totals.uv]
    if len(streams) < MIN_STREAMS:
        return {"enough": False, "streams": len(streams), "note": "few_streams"}
    rng = np.random.default_rng(seed)
    per_channel, unpaid = await _channel_history(session, host_id)
    base = np.maximum(rng.normal(statistics.fmean(unpaid or [0]), statistics.pstdev(unpaid or [0]) or 1.0, DRAWS), 0)
    audience = base.copy()
    unknown = []
    for channel, budget in data.spend.items():
        pairs = per_channel.get(channel)
        if not pairs:
            unknown.append(channel)
            continue
        rates = [viewers / spent for spent, viewers in pairs]
        mean = sum(v for _, v in pairs) / sum(s for s, _ in pairs)
        spread = statistics.stdev(rates) if len(rates) > 1 else mean * 0.5
        audience += budget * np.maximum(rng.normal(mean, spread, DRAWS), 0)
    uv = sum(s.totals.uv for s in streams)
    buyers = sum(s.totals.buyers for s in streams)
    conversion = rng.beta(buyers + 1, uv - buyers + 1, DRAWS)
    xs = [s.totals.interacted / s.totals.uv for s in streams]
    ys = [math.log((s.totals.buyers + 0.5) / s.totals.uv) for s in streams]
    slope, slope_se = _slope(xs, ys)
    if data.interaction_rate is not None:
        conversion = conversion * np.exp(
            rng.normal(slope, slope_se or 1e-9, DRAWS) * (data.interaction_rate - statistics.fmean(xs))
        )
    eps, eps_se, measured = await _elasticity(session, host_id)
    conversion = np.clip(conversion * (1 + data.price_change) ** rng.normal(eps, eps_se, DRAWS), 0, 1)
    value = (sum(s.totals.gmv for s in streams) / max(1, buyers)) * (1 + data.price_change)
    revenue = audience * conversion * value
    return {
        "enough": True,
        "streams": len(streams),
        "A": float(audience.mean()),
        "P": float(conversion.mean()),
        "V": value,
        "R": float(revenue.mean()),
        "interval80": [float(np.quantile(revenue, 0.1)), float(np.quantile(revenue, 0.9))],
        "interval95": [float(np.quantile(revenue, 0.025)), float(np.quantile(revenue, 0.975))],
        "interaction_slope": slope,
        "elasticity": {"value": eps, "se": eps_se, "from_experiments": measured},
        "unknown_channels": unknown,
    }


# ---- the optimizer's history ------------------------------------------------------------------------------

MARKER_KINDS = {"poll": "polls", "draw": "draws", "coupon": "drops"}


async def past_streams(session: AsyncSession, host_id: int) -> list[optimizer.PastStream]:
    """The host's ended streams as the optimizer learns from them: hours, unpaid viewers, spend and viewers per
    channel, UV, buyers, GMV, and how many polls, draws and coupon drops each ran."""
    streams = [s for s in await facts_read.streams_of(session, host_id) if s.ended_at and s.totals.uv]
    rooms = [s.room_id for s in streams]
    spend: dict[tuple[int, str], int] = defaultdict(int)
    costs = select(m.Cost.room_id, m.Cost.channel, func.sum(m.Cost.amount)).where(
        m.Cost.host_id == host_id, m.Cost.category == "ads", m.Cost.room_id.in_(rooms)
    )
    for room_id, channel, amount in await session.execute(costs.group_by(m.Cost.room_id, m.Cost.channel)):
        spend[(room_id, channel or "direct")] += int(amount or 0)
    V = m.RoomVisitor
    seen = (
        select(V.room_id, V.channel, func.count())
        .where(V.room_id.in_(rooms), V.watched_seconds >= MIN_VIEW_SECONDS)
        .group_by(V.room_id, V.channel)
    )
    paid: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    unpaid: dict[int, int] = defaultdict(int)
    for room_id, channel, count in await session.execute(seen):
        name = channel or "direct"
        if spend.get((room_id, name)):
            paid[room_id][name] = (spend[(room_id, name)], int(count))
        else:
            unpaid[room_id] += int(count)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(optimizer.KINDS, 0))
    E = m.AnalyticsEvent
    for room_id, data in await session.execute(
        select(E.room_id, E.data).where(E.room_id.in_(rooms), E.kind == "marker")
    ):
        kind = MARKER_KINDS.get(str((data or {}).get("type")))
        if kind:
            counts[room_id][kind] += 1
    return [
        optimizer.PastStream(
            hours=max(0.25, (s.ended_at - s.started_at).total_seconds() / 3600) if s.ended_at else 1.0,
            unpaid=unpaid[s.room_id],
            spend=paid[s.room_id],
            uv=s.totals.uv,
            buyers=s.totals.buyers,
            gmv=s.totals.gmv,
            **counts[s.room_id],
        )
        for s in streams
    ]


async def optimize(session: AsyncSession, host_id: int, limits: optimizer.Constraints) -> dict[str, Any]:
    """The next stream's recommended budget split, interaction plan and price (knowcast.analytics.optimizer)."""
    eps, eps_se, measured = await _elasticity(session, host_id)
    evidence = optimizer.PriceEvidence(eps, eps_se) if measured else None
    return optimizer.recommend(await past_streams(session, host_id), limits, evidence)
