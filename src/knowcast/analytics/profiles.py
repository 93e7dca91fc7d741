"""User profiles (用户画像) per host: first and last seen, streams watched, watch time, interactions, purchases,
RFM segment, interests and predicted lifetime value; segments over them.

A profile is keyed by visitor id, so it is pseudonymous unless the person consented (then it is their account,
``u:<id>``, and stays one profile across days). Only consented profiles can be reached as a coupon or draw
audience: a pseudonymous id cannot be turned back into an account.

Predicted LTV (documented in docs/analytics.md): a gamma–Poisson purchase rate, each visitor's orders per day
shrunk toward the shop's rate (prior weight PRIOR_DAYS), times the chance they are still active
(exp(−days since last seen / ACTIVE_DAYS)), times 365 days, times their average order value shrunk toward the
shop's; added to what they have spent so far.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.db.types import utcnow

PRIOR_DAYS = 90.0
ACTIVE_DAYS = 180.0
HORIZON_DAYS = 365.0
INTEREST_WEIGHTS = {"seen": 1, "clicked": 3, "bought": 10}
RFM_SEGMENTS = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "needs_attention",
    "at_risk",
    "hibernating",
    "prospects",
)


@dataclass
class Profile:
    visitor: str
    first_seen: datetime
    last_seen: datetime
    streams: int
    watch_seconds: float
    interactions: int
    orders: int
    revenue: int
    last_order_at: datetime | None
    consented: bool
    user_id: int | None
    rfm: str = "prospects"
    scores: tuple[int, int, int] | None = None
    interests: list[str] = field(default_factory=list)
    future_value: float = 0.0
    ltv: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("first_seen", "last_seen", "last_order_at"):
            out[key] = out[key].isoformat() if out[key] else None
        out["visitor"] = self.visitor if self.consented else self.visitor[:10] + "…"
        return out


async def load(session: AsyncSession, host_id: int, now: datetime | None = None) -> list[Profile]:
    V = m.RoomVisitor
    query = (
        select(
            V.visitor,
            func.min(V.first_at),
            func.max(V.last_at),
            func.count(),
            func.sum(V.watched_seconds),
            func.sum(V.interactions),
            func.sum(V.orders_paid),
            func.sum(V.gmv) - func.sum(V.refunds),
            func.max(V.last_order_at),
        )
        .where(V.host_id == host_id)
        .group_by(V.visitor)
    )
    profiles = []
    for visitor, first, last, streams, watched, inter, orders, revenue, last_order in await session.execute(query):
        consented = visitor.startswith("u:")
        user_id = int(visitor[2:]) if consented and visitor[2:].isdigit() else None
        profiles.append(
            Profile(
                visitor,
                first,
                last,
                int(streams),
                float(watched or 0),
                int(inter or 0),
                int(orders or 0),
                int(revenue or 0),
                last_order,
                consented,
                user_id,
            )
        )
    await _interests(session, host_id, profiles)
    score(profiles, now or utcnow())
    return profiles


async def _interests(session: AsyncSession, host_id: int, profiles: list[Profile]) -> None:
    weights: dict[str, dict[str, int]] = {}
    for row in await session.scalars(select(m.Interest).where(m.Interest.host_id == host_id)):
        total = (
            row.seen * INTEREST_WEIGHTS["seen"]
            + row.clicked * INTEREST_WEIGHTS["clicked"]
            + row.bought * INTEREST_WEIGHTS["bought"]
        )
        weights.setdefault(row.visitor, {})[row.kind] = total
    for profile in profiles:
        kinds = weights.get(profile.visitor, {})
        profile.interests = [k for k, _ in sorted(kinds.items(), key=lambda kv: -kv[1])[:3]]


def quintile(values: list[float]) -> list[int]:
    """Scores 1–5 by rank (ties share the lower rank), higher value → higher score."""
    order = sorted(values)
    n = len(values)
    return [1 + min(4, int(5 * bisect_left(order, v) / n)) for v in values]


def segment_of(r: int, f: int, m_: int) -> str:
    if r >= 4 and f >= 4 and m_ >= 4:
        return "champions"
    if f >= 4 and r >= 3:
        return "loyal"
    if r >= 4 and f == 1:
        return "new_customers"
    if r >= 4:
        return "potential_loyalists"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r <= 2:
        return "hibernating"
    return "needs_attention"


def score(profiles: list[Profile], now: datetime) -> None:
    buyers = [p for p in profiles if p.orders > 0]
    if buyers:
        recency = quintile([-(now - (p.last_order_at or p.last_seen)).total_seconds() for p in buyers])
        frequency = quintile([float(p.orders) for p in buyers])
        money = quintile([float(p.revenue) for p in buyers])
        for p, r, f, m_ in zip(buyers, recency, frequency, money, strict=True):
            p.scores, p.rfm = (r, f, m_), segment_of(r, f, m_)
    predict(profiles, now)


def predict(profiles: list[Profile], now: datetime) -> None:
    days = [max(1.0, (now - p.first_seen).total_seconds() / 86400) for p in profiles]
    total_orders = sum(p.orders for p in profiles)
    shop_rate = total_orders / sum(days) if days else 0.0
    buyers = [p for p in profiles if p.orders]
    shop_aov = sum(p.revenue for p in buyers) / max(1, sum(p.orders for p in buyers))
    for p, age in zip(profiles, days, strict=True):
        rate = (shop_rate * PRIOR_DAYS + p.orders) / (PRIOR_DAYS + age)
        active = math.exp(-max(0.0, (now - p.last_seen).total_seconds() / 86400) / ACTIVE_DAYS)
        aov = (p.revenue + shop_aov) / (p.orders + 1)
        p.future_value = rate * HORIZON_DAYS * active * aov
        p.ltv = p.revenue + p.future_value


def matches(profile: Profile, rules: dict[str, Any]) -> bool:
    if rules.get("rfm") and profile.rfm not in rules["rfm"]:
        return False
    if rules.get("interest") and rules["interest"] not in profile.interests:
        return False
    checks = (
        ("min_orders", profile.orders),
        ("min_streams", profile.streams),
        ("min_watch_seconds", profile.watch_seconds),
        ("min_ltv", profile.ltv),
    )
    if any(rules.get(key) is not None and value < rules[key] for key, value in checks):
        return False
    return not (rules.get("consented_only") and not profile.consented)


def members(profiles: list[Profile], rules: dict[str, Any]) -> list[Profile]:
    return [p for p in profiles if matches(p, rules)]


def overview(profiles: list[Profile]) -> dict[str, Any]:
    counts = dict.fromkeys(RFM_SEGMENTS, 0)
    for p in profiles:
        counts[p.rfm] += 1
    return {
        "profiles": len(profiles),
        "consented": sum(p.consented for p in profiles),
        "buyers": sum(1 for p in profiles if p.orders),
        "segments": counts,
        "predicted_value": sum(p.future_value for p in profiles),
    }
