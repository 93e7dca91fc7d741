"""Forecasting the next streams: candidate models, a rolling-origin backtest that picks one, calibrated ranges.

Candidates, all on log(1 + y) (a stream's GMV or viewers are positive and grow by multiples):
- **seasonal naive**: the latest past stream in the same slot of the week (weekday and part of the day), else
  the latest stream: the baseline every other model must beat;
- **ETS**: exponential smoothing with a damped additive trend (Holt), statsmodels;
- **regression**: ordinary least squares (statsmodels) on a trend, the week's slots, a promotion flag and, when
  the shop has them, log(1 + reminders booked).

Each is backtested with a rolling origin (fit on streams 1..t, forecast t+1..t+H) over the latest origins.
MASE divides a model's mean absolute one-step error by the in-sample mean absolute error of the one-step naive
forecast (Hyndman & Koehler, 2006). The headline is the model with the lowest MASE only if it beats seasonal
naive on that backtest and the difference holds up (a one-sided paired t-test on the absolute errors, the
Diebold-Mariano test for one-step forecasts, at 10 %); otherwise it is seasonal naive: structureless noise
gets the baseline, not a model that fitted the noise. The range for step h comes from the chosen model's own
backtest errors at that step (empirical quantiles, pooled over nearby steps when few), and is bounded by what
the history makes plausible (never below 0, never above twice the best stream so far). Below MIN_HISTORY
streams there is no backtest worth the name: the answer says so and gives the seasonal naive forecast with the
history's own range.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy import stats

MIN_HISTORY = 8  # streams before any model is backtested and chosen
MAX_ORIGINS = 16  # the latest origins of the rolling backtest
LEVEL = 0.8
SIGNIFICANCE = 0.10
PLAUSIBLE = 2.0  # a range never reaches past twice the best stream so far
MIN_ERRORS = 8  # errors at one step before its own quantiles are used


@dataclass(frozen=True)
class Point:
    """One stream: when, how much (GMV in minor units, or viewers), whether it ran a promotion, reminders."""

    at: datetime
    value: float
    promotion: bool = False
    reminders: float | None = None


def slot(at: datetime) -> tuple[int, int]:
    """The slot of the week: weekday and part of the day (night, morning, afternoon, evening)."""
    return at.weekday(), at.hour // 6


Fit = Callable[[Sequence[Point], Sequence[Point]], NDArray[np.float64] | None]


def seasonal_naive(train: Sequence[Point], future: Sequence[Point]) -> NDArray[np.float64]:
    latest: dict[tuple[int, int], float] = {slot(p.at): p.value for p in train}
    by_day: dict[int, float] = {p.at.weekday(): p.value for p in train}
    last = train[-1].value
    return np.log1p([latest.get(slot(f.at), by_day.get(f.at.weekday(), last)) for f in future])


def mean(train: Sequence[Point], future: Sequence[Point]) -> NDArray[np.float64]:
    """The history's average level: not a candidate, the yardstick that tells structure from noise."""
    return np.full(len(future), float(np.mean(np.log1p([p.value for p in train]))))


def ets(train: Sequence[Point], future: Sequence[Point]) -> NDArray[np.float64] | None:
    from statsmodels.tsa.holtwinters import Holt

    y = np.log1p([p.value for p in train])
    if len(y) < 10 or np.ptp(y) == 0:  # the heuristic start needs ten streams
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short series; the backtest judges the result
        fitted = Holt(y, damped_trend=True, initialization_method="heuristic").fit()
    return np.asarray(fitted.forecast(len(future)), dtype=float)


def _design(points: Sequence[Point], start: int, slots: list[tuple[int, int]], terms: set[str]) -> NDArray[np.float64]:
    rows = []
    for i, p in enumerate(points, start):
        row = [1.0, i / 52.0]
        row += [float(slot(p.at) == s) for s in slots]
        if "promotion" in terms:
            row.append(float(p.promotion))
        if "reminders" in terms:
            row.append(math.log1p(p.reminders or 0.0))
        rows.append(row)
    return np.asarray(rows, dtype=float)


def regression(use_reminders: bool) -> Fit:
    def fit(train: Sequence[Point], future: Sequence[Point]) -> NDArray[np.float64] | None:
        import statsmodels.api as sm

        counts = Counter(slot(p.at) for p in train)
        common = [s for s, n in counts.most_common() if n >= 2][1:]  # the most common slot is the reference
        terms = set()
        if len({p.promotion for p in train}) > 1:
            terms.add("promotion")
        if use_reminders:
            if any(p.reminders is None for p in (*train, *future)) or len({p.reminders for p in train}) < 2:
                return None
            terms.add("reminders")
        x = _design(train, 0, common, terms)
        if len(train) < x.shape[1] + 3:
            return None
        model = sm.OLS(np.log1p([p.value for p in train]), x).fit()
        return np.asarray(model.predict(_design(future, len(train), common, terms)), dtype=float)

    return fit


def reminder_elasticity(points: Sequence[Point]) -> float:
    """β in log(1 + viewers) ≈ … + β·log(1 + reminders), from the regression on the whole history (0 without
    reminders that vary)."""
    import statsmodels.api as sm

    if any(p.reminders is None for p in points) or len({p.reminders for p in points}) < 2 or len(points) < 5:
        return 0.0
    x = _design(points, 0, [], {"reminders"})
    fitted = sm.OLS(np.log1p([p.value for p in points]), x).fit()
    return max(0.0, float(fitted.params[-1]))


MODELS: dict[str, Fit] = {
    "seasonal_naive": seasonal_naive,
    "mean": mean,
    "ets": ets,
    "regression": regression(use_reminders=False),
    "regression_reminders": regression(use_reminders=True),
}


@dataclass
class Backtest:
    one_step: dict[int, float] = field(default_factory=dict)  # origin → absolute error in original units
    log_errors: dict[int, list[float]] = field(default_factory=dict)  # step → log(1 + actual) − forecast

    def mase(self, scale: float, origins: Sequence[int] | None = None) -> float | None:
        errors = [self.one_step[o] for o in (self.one_step if origins is None else origins) if o in self.one_step]
        return float(np.mean(errors)) / scale if errors and scale else None


def backtest(points: Sequence[Point], horizon: int, models: dict[str, Fit] = MODELS) -> dict[str, Backtest]:
    """Rolling origin over the latest MAX_ORIGINS origins: each model fits streams before the origin and forecasts
    the next ``horizon`` (their slots, promotions and reminders known in advance)."""
    results = {name: Backtest() for name in models}
    first = max(MIN_HISTORY // 2, len(points) - MAX_ORIGINS)
    for origin in range(first, len(points)):
        train, test = points[:origin], points[origin : origin + horizon]
        actual = np.log1p([p.value for p in test])
        for name, fit in models.items():
            guess = fit(train, test)
            if guess is None:
                continue
            result = results[name]
            result.one_step[origin] = abs(test[0].value - math.expm1(guess[0]))
            for step, error in enumerate(actual - guess, 1):
                result.log_errors.setdefault(step, []).append(float(error))
    return {name: result for name, result in results.items() if result.one_step}


def naive_scale(points: Sequence[Point]) -> float:
    values = [p.value for p in points]
    return float(np.mean(np.abs(np.diff(values)))) if len(values) > 1 else 0.0


def _beats(result: Backtest, other: Backtest, origins: Sequence[int]) -> bool:
    """Lower errors on the same origins, and a difference that holds up (one-sided paired t-test)."""
    gain = np.asarray([other.one_step[o] - result.one_step[o] for o in origins])
    return bool(gain.mean() > 0 and stats.ttest_1samp(gain, 0.0, alternative="greater").pvalue < SIGNIFICANCE)


def choose(tests: dict[str, Backtest], scale: float) -> str:
    """The model with the lowest MASE among those that beat seasonal naive AND the history's plain average on
    the origins they share (so the model has found structure, not fitted noise); else seasonal naive."""
    base, level = tests["seasonal_naive"], tests["mean"]
    best, best_ratio = "seasonal_naive", 1.0
    for name, result in tests.items():
        if name in ("seasonal_naive", "mean"):
            continue
        shared = [o for o in result.one_step if o in base.one_step and o in level.one_step]
        if len(shared) < MIN_HISTORY // 2:
            continue
        mine, theirs = result.mase(scale, shared), base.mase(scale, shared)
        if mine is None or not theirs or mine / theirs >= best_ratio:
            continue
        if _beats(result, base, shared) and _beats(result, level, shared):
            best, best_ratio = name, mine / theirs
    return best


def _errors_at(test: Backtest, step: int) -> list[float]:
    near = test.log_errors.get(step, [])
    if len(near) >= MIN_ERRORS:
        return near
    return [e for s, errors in test.log_errors.items() if s <= max(step, 1) + 1 for e in errors]


def ranges(centre: NDArray[np.float64], test: Backtest, ceiling: float) -> tuple[list[float], list[float]]:
    """The central LEVEL range for each step from the backtest's errors at that step, in original units."""
    low, high = [], []
    for step, c in enumerate(centre, 1):
        errors = _errors_at(test, step)
        lo, hi = np.quantile(errors, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]) if errors else (0.0, 0.0)
        low.append(max(0.0, math.expm1(c + min(0.0, float(lo)))))
        high.append(min(ceiling, max(0.0, math.expm1(c + max(0.0, float(hi))))))
    return low, high


def future_points(points: Sequence[Point], horizon: int) -> list[Point]:
    """The next ``horizon`` streams on the shop's weekly rhythm: the last week's slots again, a week later each
    round; no promotion assumed; the latest reminders count carried forward (unknown until booked)."""
    last = points[-1].at
    week = [p for p in points if p.at > last - timedelta(days=7)]
    out = []
    for i in range(horizon):
        template = week[i % len(week)]
        reminders = points[-1].reminders
        out.append(Point(template.at + timedelta(days=7 * (1 + i // len(week))), 0.0, False, reminders))
    return out


def forecast(points: Sequence[Point], future: Sequence[Point]) -> dict[str, object]:
    """The chosen model's forecast of ``future`` with its ranges and backtest, or the thin-history answer."""
    ordered = sorted(points, key=lambda p: p.at)
    values = [p.value for p in ordered]
    if not ordered:
        return {"streams": 0, "enough": False, "note": "no_history", "model": None}
    ceiling = PLAUSIBLE * max(values) if max(values) > 0 else 0.0
    if len(ordered) < MIN_HISTORY:
        naive = np.expm1(seasonal_naive(ordered, future))
        return {
            "streams": len(ordered),
            "enough": False,
            "note": "thin_history",
            "model": "seasonal_naive",
            "points": [float(c) for c in naive],
            "low": [float(min(values))] * len(future),
            "high": [float(max(values))] * len(future),
            "backtest": {"origins": 0, "mase": None, "mase_seasonal_naive": None, "models": {}},
        }
    horizon = max(1, len(future))
    tests = backtest(ordered, horizon)
    scale = naive_scale(ordered)
    chosen = choose(tests, scale)
    guess = MODELS[chosen](ordered, future)
    assert guess is not None  # the chosen model was backtested, so it fits the whole history too
    low, high = ranges(guess, tests[chosen], ceiling)
    origins = list(tests[chosen].one_step)
    centre = [min(ceiling, max(0.0, math.expm1(float(g)))) for g in guess]
    return {
        "streams": len(ordered),
        "enough": True,
        "note": None,
        "model": chosen,
        "points": centre,
        "low": [min(lo, c) for lo, c in zip(low, centre, strict=True)],
        "high": [max(hi, c) for hi, c in zip(high, centre, strict=True)],
        "backtest": {  # both MASEs on the origins the chosen model was backtested on
            "origins": len(origins),
            "mase": tests[chosen].mase(scale, origins),
            "mase_seasonal_naive": tests["seasonal_naive"].mase(scale, origins),
            "models": {name: test.mase(scale) for name, test in tests.items() if name != "mean"},
        },
    }
