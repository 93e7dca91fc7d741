"""A/B/n experiments on price, coupon value, pitch text or product card.

Assignment: a keyed hash (HMAC-SHA256 with the site secret) of (experiment key, visitor id) picks a point in
[0, 1) that falls into one variant by weight, so a visitor keeps their variant on every page and process.
Exposure: recorded when the page asks for its assignments. Conversion: a paid order attributed to the
visitor after their first exposure. The analysis follows docs/metrics.md (knowcast.analytics.stats).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.analytics import records as r
from knowcast.analytics import stats
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.db.types import utcnow

CACHE_SECONDS = 10.0


def bucket(secret: str, experiment_key: str, visitor: str) -> float:
    digest = hmac.new(secret.encode(), f"{experiment_key}\n{visitor}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(secret: str, experiment: m.Experiment, visitor: str) -> dict[str, Any]:
    point = bucket(secret, experiment.key, visitor)
    total = sum(int(v.get("weight", 1)) for v in experiment.variants)
    edge = 0.0
    for variant in experiment.variants:
        edge += int(variant.get("weight", 1)) / total
        if point < edge:
            return variant
    return experiment.variants[-1]


class Running:
    """Running experiments per host, cached briefly (the intake asks on every page load)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[float, list[m.Experiment]]] = {}

    def cached(self, host_id: int) -> list[m.Experiment] | None:
        """The host's running experiments if known (and fresh) here: no session needed."""
        hit = self._cache.get(host_id)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    async def of_host(self, session: AsyncSession, host_id: int) -> list[m.Experiment]:
        hit = self.cached(host_id)
        if hit is not None:
            return hit
        query = select(m.Experiment).where(m.Experiment.host_id == host_id, m.Experiment.state == "running")
        rows = list(await session.scalars(query))
        self._cache[host_id] = (time.monotonic() + CACHE_SECONDS, rows)
        return rows

    def forget(self, host_id: int) -> None:
        self._cache.pop(host_id, None)


async def assignments(
    session: AsyncSession, runtime: AnalyticsRuntime, running: Running, room_id: int, visitor: str
) -> list[dict[str, Any]]:
    """This visitor's variant in each running experiment of the room's host, exposures recorded."""
    info = await runtime.room_info(room_id)
    if info is None:
        return []
    out = []
    for experiment in await running.of_host(session, info.host_id):
        if experiment.room_id not in (None, room_id):
            continue
        variant = assign(runtime.settings.secret_key, experiment, visitor)
        out.append(
            {
                "experiment": experiment.key,
                "subject": experiment.subject,
                "variant": variant["key"],
                "payload": variant.get("payload", {}),
            }
        )
        data = {"experiment_id": experiment.id, "variant": variant["key"]}
        runtime.offer(Record(r.EXPOSURE, room_id, utcnow(), visitor=visitor, host_id=info.host_id, data=data))
    return out


async def analyse(session: AsyncSession, experiment: m.Experiment) -> dict[str, Any]:
    """The experiment as the page shows it. While it runs, the headline is anytime-valid (the mSPRT's p-values,
    Holm-adjusted across the variants, and confidence sequences at α / comparisons), so looking every day does
    not inflate false positives. The fixed-horizon figures (z-test p-value, Wald and lift intervals, chance to
    beat, expected loss) appear only once every variant has the sample size fixed at creation."""
    E = m.Exposure
    query = (
        select(E.variant, func.count(), func.sum(case((E.conversions > 0, 1), else_=0)), func.sum(E.revenue))
        .where(E.experiment_id == experiment.id)
        .group_by(E.variant)
    )
    counts = {row[0]: (int(row[1]), int(row[2] or 0), int(row[3] or 0)) for row in await session.execute(query)}
    keys = [v["key"] for v in experiment.variants]
    weights = [float(v.get("weight", 1)) for v in experiment.variants]
    n0, x0, _ = counts.get(keys[0], (0, 0, 0))
    smallest = min(counts.get(key, (0, 0, 0))[0] for key in keys)
    reached = experiment.sample_size is not None and smallest >= experiment.sample_size
    comparisons = len(keys) - 1
    variants = [_variant(key, counts.get(key, (0, 0, 0)), i == 0, n0, x0, comparisons) for i, key in enumerate(keys)]
    _adjust(variants, "always_valid_p", reached=True)
    _adjust(variants, "p_value", reached)
    check = stats.srm([counts.get(k, (0, 0, 0))[0] for k in keys], weights)
    return {
        "id": experiment.id,
        "key": experiment.key,
        "name": experiment.name,
        "subject": experiment.subject,
        "state": experiment.state,
        "plan": {
            "baseline_rate": experiment.baseline_rate,
            "min_effect": experiment.min_effect,
            "sample_size": experiment.sample_size,
            "alpha": stats.ALPHA,
            "power": stats.POWER,
        },
        "progress": min(1.0, smallest / experiment.sample_size) if experiment.sample_size else None,
        "fixed_horizon": reached,
        "headline": _headline(variants),
        "variants": variants,
        "srm": {"chi2": check[0], "p": check[1], "alert": check[1] < stats.SRM_ALERT} if check else None,
    }


def _variant(
    key: str, count: tuple[int, int, int], control: bool, n0: int, x0: int, comparisons: int
) -> dict[str, Any]:
    n, x, revenue = count
    out: dict[str, Any] = {
        "key": key,
        "control": control,
        "exposures": n,
        "conversions": x,
        "rate": x / n if n else None,
        "rate_interval": stats.clip(stats.wald(x, n), 0.0, 1.0),
        "revenue": revenue,
        "revenue_per_exposure": revenue / n if n else None,
    }
    if control or not n or not n0:
        return out
    alpha = stats.ALPHA / max(1, comparisons)  # simultaneous over the comparisons (Holm's first step)
    relative, interval = stats.lift(x, n, x0, n0)
    out.update(
        difference=x / n - x0 / n0,
        sequential_interval=stats.clip(stats.confidence_sequence(x, n, x0, n0, alpha=alpha), -1.0, 1.0),
        always_valid_p=stats.always_valid_p(x, n, x0, n0),
        # fixed-horizon: computed always, shown (and kept in the answer) only once the sample is reached
        p_value=stats.z_test_p(x, n, x0, n0),
        difference_interval=stats.clip(stats.wald_difference(x, n, x0, n0), -1.0, 1.0),
        lift=relative,
        lift_interval=stats.clip(interval, -1.0, math.inf),
        prob_beat_control=stats.prob_beat(x, n, x0, n0),
        expected_loss=stats.expected_loss(x, n, x0, n0),
    )
    return out


FIXED_HORIZON = ("p_value", "p_value_holm", "difference_interval", "lift", "lift_interval", "prob_beat_control")


def _adjust(variants: list[dict[str, Any]], name: str, reached: bool) -> None:
    """Holm-adjust one p-value across the challengers; before the sample is reached, drop the fixed-horizon
    figures altogether so no page or API client can peek at them."""
    challengers = [v for v in variants if name in v]
    for variant, adjusted in zip(challengers, stats.holm([v[name] for v in challengers]), strict=True):
        variant[f"{name}_holm"] = adjusted
    if not reached:
        for variant in challengers:
            for field in (*FIXED_HORIZON, "expected_loss"):
                variant.pop(field, None)


def _headline(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """The anytime-valid verdict: the challenger whose Holm-adjusted always-valid p-value is below α (the best
    one if several), winning or losing against control; else no verdict yet."""
    decided = [
        v for v in variants if v.get("always_valid_p_holm") is not None and v["always_valid_p_holm"] < stats.ALPHA
    ]
    if not decided:
        return {"verdict": "undecided", "variant": None}
    best = max(decided, key=lambda v: v["difference"])
    return {
        "verdict": "better" if best["difference"] > 0 else "worse",
        "variant": best["key"],
        "p": best["always_valid_p_holm"],
        "difference": best["difference"],
        "interval": best["sequential_interval"],
    }
