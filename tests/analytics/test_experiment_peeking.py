"""Experiments that never mislead (issue #17 §2): the running headline is anytime-valid, the fixed-horizon figures
wait for the planned sample, Holm across variants, expected loss relative to control, intervals clipped."""

from __future__ import annotations

import math

import numpy as np
import pytest

from knowcast.analytics import experiments, stats
from knowcast.analytics import models as m
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from tests.analytics.conftest import Stage

LOOKS, STEP, RATE = 20, 250, 0.05  # 20 looks, 250 more visitors per variant each time, 5 % conversion


def headline_fires(counts: list[tuple[int, int]]) -> bool:
    """The page's headline verdict for one look: control first, then the challengers."""
    x0, n0 = counts[0]
    p = [stats.always_valid_p(x, n, x0, n0) for x, n in counts[1:]]
    return any(q is not None and q < stats.ALPHA for q in stats.holm(p))


@pytest.mark.parametrize("arms", [2, 3])
def test_an_aa_test_looked_at_twenty_times_rarely_declares_a_winner(arms: int) -> None:
    """2,000 simulated A/A experiments, looked at 20 times each: the fixed 95 % interval excludes 0 at some look
    far more often than 5 % (peeking); the anytime-valid, Holm-adjusted headline stays at or under 5 %."""
    rng = np.random.default_rng(20261206 + arms)
    sims = 2000
    sales = rng.binomial(STEP, RATE, (sims, arms, LOOKS)).cumsum(axis=2)
    headline = naive = 0
    for s in range(sims):
        fired = peeked = False
        for look in range(LOOKS):
            n = (look + 1) * STEP
            counts = [(int(sales[s, a, look]), n) for a in range(arms)]
            fired |= headline_fires(counts)
            lo, hi = stats.wald_difference(counts[1][0], n, counts[0][0], n)  # type: ignore[misc]
            peeked |= lo > 0 or hi < 0
        headline += fired
        naive += peeked
    assert naive / sims > 0.15
    assert headline / sims <= 0.05


def test_the_always_valid_p_value_agrees_with_the_confidence_sequence() -> None:
    for x1, n1, x0, n0 in [(60, 1000, 50, 1000), (130, 1000, 80, 1000), (5, 40, 9, 41), (300, 2000, 200, 2000)]:
        low, high = stats.confidence_sequence(x1, n1, x0, n0)  # type: ignore[misc]
        p = stats.always_valid_p(x1, n1, x0, n0)
        assert p is not None and (p < stats.ALPHA) == (low > 0 or high < 0)


def test_holm_adjusts_step_down_and_keeps_order() -> None:
    # Holm (1979): sorted p 0.01, 0.02, 0.04 over 3 tests → 0.03, 0.04, 0.04 (monotone)
    assert stats.holm([0.04, 0.01, None, 0.02]) == pytest.approx([0.04, 0.03, None, 0.04])  # type: ignore[comparison-overlap]
    assert stats.holm([0.5]) == [0.5]


def test_the_sample_size_gives_the_promised_power() -> None:
    """At the computed sample, a z-test finds the planned lift about 80 % of the time (simulated)."""
    n = stats.sample_size(0.10, 0.2)
    # the textbook two-proportion formula: (z.975 + z.8)² (p0 q0 + p1 q1) / δ² = 3,838.1 → 3,839
    assert n == 3839
    rng = np.random.default_rng(7)
    found = sum(
        stats.z_test_p(int(rng.binomial(n, 0.12)), n, int(rng.binomial(n, 0.10)), n) < 0.05  # type: ignore[operator]
        for _ in range(3000)
    )
    assert 0.77 <= found / 3000 <= 0.83
    assert stats.sample_size(0.10, 0.2, comparisons=3) > n  # α split over three comparisons needs more


def test_expected_loss_is_relative_to_control_and_intervals_are_clipped() -> None:
    twin = stats.expected_loss(100, 1000, 100, 1000)
    assert 0.05 < twin < 0.15  # about 8 % of control's 10 % rate, not 0.8 points
    assert stats.clip(stats.wald(0, 20), 0.0, 1.0) == (0.0, 0.0)
    assert stats.clip((-0.3, 1.4), 0.0, 1.0) == (0.0, 1.0)


async def exposures(ctx: AppContext, experiment_id: int, host_id: int, per_variant: dict[str, tuple[int, int]]) -> None:
    async with ctx.db.session() as session:
        for variant, (n, x) in per_variant.items():
            for i in range(n):
                session.add(
                    m.Exposure(
                        experiment_id=experiment_id,
                        visitor=f"p:{variant}-{i}",
                        host_id=host_id,
                        variant=variant,
                        first_at=utcnow(),
                        conversions=int(i < x),
                        revenue=4900 if i < x else 0,
                    )
                )
        await session.commit()


async def test_fixed_horizon_figures_wait_for_the_planned_sample(stage: Stage, ctx: AppContext) -> None:
    body = {
        "name": "标题卡",
        "subject": "card",
        "variants": [{"key": "a"}, {"key": "b"}, {"key": "c"}],
        "baseline_rate": 0.2,
        "min_effect": 1.0,
    }
    made = await stage.host.client.post("/api/v1/analytics/experiments", json=body)
    assert made.status_code == 201, made.text
    created = made.json()
    planned = created["plan"]["sample_size"]
    calc = await stage.host.client.get(
        "/api/v1/analytics/experiments/sample-size", params={"baseline_rate": 0.2, "min_effect": 1.0, "variants": 3}
    )
    assert calc.status_code == 200 and calc.json()["per_variant"] == planned and calc.json()["total"] == 3 * planned
    bad = await stage.host.client.get("/api/v1/analytics/experiments/sample-size", params={"baseline_rate": 2})
    assert bad.status_code == 422
    half = planned // 2
    await exposures(
        ctx, created["id"], stage.host.user.id, {"a": (half, half // 5), "b": (half, half // 2), "c": (half, 0)}
    )
    running = (await stage.host.client.get(f"/api/v1/analytics/experiments/{created['id']}")).json()
    assert running["fixed_horizon"] is False and 0.45 < running["progress"] < 0.55
    for variant in running["variants"][1:]:
        assert "always_valid_p_holm" in variant and "sequential_interval" in variant
        for hidden in ("p_value", "lift", "lift_interval", "prob_beat_control", "expected_loss", "difference_interval"):
            assert hidden not in variant, hidden
        low, high = variant["sequential_interval"]
        assert -1.0 <= low <= high <= 1.0
    assert running["variants"][2]["rate_interval"] == [0.0, 0.0]
    async with ctx.db.session() as session:
        row = await session.get(m.Experiment, created["id"])
        assert row is not None
        row.sample_size = half  # as if the plan had asked for what is there now
        await session.commit()
        done = await experiments.analyse(session, row)
    assert done["fixed_horizon"] is True
    challenger = done["variants"][1]
    assert {"p_value", "p_value_holm", "lift", "prob_beat_control", "expected_loss"} <= set(challenger)
    assert challenger["p_value_holm"] >= challenger["p_value"]
    assert done["headline"]["verdict"] in ("better", "worse", "undecided")
    assert math.isfinite(challenger["lift_interval"][1])
