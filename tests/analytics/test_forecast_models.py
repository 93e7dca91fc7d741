"""Forecasts that never mislead (issue #17 §1), on synthetic histories with known structure: the headline beats
seasonal naive where there is structure, falls back to it where there is none, and its 80 % ranges hold."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from knowcast.analytics import forecast_models as fm

MONDAY = datetime(2025, 1, 6, tzinfo=UTC)
SLOTS = ((1, 20), (3, 20), (5, 14))  # Tuesday and Thursday evenings, Saturday afternoon
SLOT_LIFT = (0.0, -0.3, 0.4)


def shop(weeks: int, seed: int, noise: float = 0.12, structure: bool = True) -> list[fm.Point]:
    """Streams three times a week: growth of 1 % a week, slot effects, +50 % with a promotion, lognormal noise."""
    rng = np.random.default_rng(seed)
    out = []
    for week in range(weeks):
        for k, (day, hour) in enumerate(SLOTS):
            at = MONDAY + timedelta(days=7 * week + day, hours=hour)
            promotion = bool(rng.random() < 0.25)
            level = math.log(20000) + (0.01 * week + SLOT_LIFT[k] + 0.4 * promotion if structure else 0.0)
            out.append(fm.Point(at, float(math.exp(level + rng.normal(0, noise))), promotion))
    return out


def held_out(points: list[fm.Point], n: int) -> tuple[list[fm.Point], list[fm.Point], dict[str, object]]:
    train, test = points[:-n], points[-n:]
    future = [fm.Point(p.at, 0.0, p.promotion, p.reminders) for p in test]
    return train, test, fm.forecast(train, future)


def test_with_structure_the_headline_beats_seasonal_naive_and_its_ranges_hold() -> None:
    covered = total = 0
    for seed in range(6):
        _, test, result = held_out(shop(40, seed), 12)
        backtest = result["backtest"]
        assert isinstance(backtest, dict)
        assert result["model"] != "seasonal_naive"
        assert backtest["mase"] < backtest["mase_seasonal_naive"]
        low, high = result["low"], result["high"]
        assert isinstance(low, list) and isinstance(high, list)
        covered += sum(lo <= p.value <= hi for p, lo, hi in zip(test, low, high, strict=True))
        total += len(test)
    assert 0.70 <= covered / total <= 0.90, covered / total


def test_on_structureless_noise_it_falls_back_to_seasonal_naive() -> None:
    picked = [held_out(shop(30, seed, noise=0.3, structure=False), 6)[2]["model"] for seed in range(6)]
    assert picked.count("seasonal_naive") >= 5, picked


@pytest.mark.parametrize(
    "values", [[6000, 9000, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 5000, 0, 0, 0, 0, 0, 0]]
)
def test_thin_or_zero_heavy_histories_give_bounded_answers(values: list[int]) -> None:
    points = [fm.Point(MONDAY + timedelta(days=7 * i, hours=20), float(v)) for i, v in enumerate(values)]
    result = fm.forecast(points, fm.future_points(points, 3))
    assert result["points"] and len(result["points"]) == 3  # type: ignore[arg-type]
    for point, low, high in zip(result["points"], result["low"], result["high"], strict=True):  # type: ignore[call-overload]
        assert 0 <= low <= point <= high <= 2 * max(max(values), 1)
    if len(values) < fm.MIN_HISTORY:
        assert (result["enough"], result["note"], result["model"]) == (False, "thin_history", "seasonal_naive")
        assert (result["low"], result["high"]) == ([0.0] * 3, [9000.0] * 3)


def test_the_future_follows_the_weekly_rhythm() -> None:
    points = shop(3, 1)
    future = fm.future_points(points, 4)
    assert [f.at - p.at for f, p in zip(future[:3], points[-3:], strict=True)] == [timedelta(days=7)] * 3
    assert future[3].at == points[-3].at + timedelta(days=14)
