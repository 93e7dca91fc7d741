"""Forecasts: the next stream's GMV and viewers from the host's history, and the running stream's final GMV.

Model: simple exponential smoothing of log(1 + y) over past streams (the smoothing weight chosen by the
smallest one-step in-sample error). Baseline: seasonal naive, the latest past stream on the same weekday
(else the previous stream). Both are backtested with a rolling origin (fit on streams 1..t, forecast t+1);
MASE divides each one's mean absolute error by the in-sample mean absolute error of the one-step naive
forecast (Hyndman & Koehler, 2006), so < 1 beats naive. Prediction intervals come from the backtest's own
errors in log space. With fewer than MIN_STREAMS streams there is no forecast, only a note saying so.

Reminders (预约) booked for the next stream are a regressor of its viewers: log(1 + viewers) = level +
β · log(1 + reminders), β the elasticity of viewers to reminders, estimated from the shop's own consecutive
streams (first differences, least squares through the origin, clamped to [0, BETA_MAX]); the level is the
smoothed remainder. The reminder model is used only when it backtests at least as well as the plain one (the
same rolling origin, each stream's reminders being known before it went live); the page shows both MASEs.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scipy import stats as sstats

from knowcast.analytics.facts_read import Stream

if TYPE_CHECKING:
    from knowcast.analytics.live import RoomBoard

MIN_STREAMS = 3
GOOD_STREAMS = 10
ALPHAS = tuple(a / 10 for a in range(1, 10))
LEVEL = 0.8
RECENT_MINUTES = 15
DEFAULT_MINUTES = 120
BETA_MAX = 1.5


def ses(values: Sequence[float], alpha: float) -> float:
    level = values[0]
    for v in values[1:]:
        level = alpha * v + (1 - alpha) * level
    return level


def best_alpha(values: Sequence[float]) -> float:
    if len(values) < 3:
        return 0.5

    def sse(alpha: float) -> float:
        return sum((values[t] - ses(values[:t], alpha)) ** 2 for t in range(1, len(values)))

    return min(ALPHAS, key=sse)


def seasonal_naive(history: Sequence[tuple[datetime, float]], when: datetime) -> float:
    same_day = [v for t, v in history if t.weekday() == when.weekday()]
    return same_day[-1] if same_day else history[-1][1]


def elasticity(logs: Sequence[float], regressor: Sequence[float]) -> float:
    """β from consecutive streams: Σ Δy·Δx / Σ Δx² (0 when the regressor never changed), clamped."""
    dy = [b - a for a, b in itertools.pairwise(logs)]
    dx = [b - a for a, b in itertools.pairwise(regressor)]
    den = sum(d * d for d in dx)
    if not den:
        return 0.0
    return min(BETA_MAX, max(0.0, sum(a * b for a, b in zip(dy, dx, strict=True)) / den))


def predict(logs: Sequence[float], regressor: Sequence[float] | None, upcoming: float | None) -> tuple[float, float]:
    """(the next log(1 + y), β): plain smoothing, or smoothing of y − β·x plus β·x of the next stream."""
    if regressor is None or upcoming is None:
        return ses(logs, best_alpha(logs)), 0.0
    beta = elasticity(logs, regressor)
    rest = [y - beta * x for y, x in zip(logs, regressor, strict=True)]
    return ses(rest, best_alpha(rest)) + beta * upcoming, beta


def backtest(series: list[tuple[datetime, float]], reminders: Sequence[int] | None = None) -> dict[str, Any]:
    """Rolling-origin one-step forecasts from the MIN_STREAMS-th stream on; errors in log space kept for the
    intervals, absolute errors in original units for MASE. With ``reminders`` (one per stream), the reminder
    model."""
    logs = [math.log1p(v) for _, v in series]
    xs = [math.log1p(r) for r in reminders] if reminders is not None else None
    model_err, naive_err, log_err = [], [], []
    for t in range(MIN_STREAMS, len(series)):
        centre, _beta = predict(logs[:t], xs[:t] if xs else None, xs[t] if xs else None)
        guess = math.expm1(centre)
        base = seasonal_naive(series[:t], series[t][0])
        actual = series[t][1]
        model_err.append(abs(actual - guess))
        naive_err.append(abs(actual - base))
        log_err.append(logs[t] - centre)
    values = [v for _, v in series]
    scale = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(values)) if len(values) > 1 else 0.0
    return {
        "origins": len(model_err),
        "mae": statistics.fmean(model_err) if model_err else None,
        "mae_baseline": statistics.fmean(naive_err) if naive_err else None,
        "mase": statistics.fmean(model_err) / scale if model_err and scale else None,
        "mase_baseline": statistics.fmean(naive_err) / scale if naive_err and scale else None,
        "log_errors": log_err,
    }


def forecast_series(
    series: list[tuple[datetime, float]],
    when: datetime,
    reminders: Sequence[int] | None = None,
    upcoming: int | None = None,
) -> dict[str, Any]:
    """The next value with its interval and backtest; with the past streams' ``reminders`` and the next one's
    (``upcoming``), the reminder model when it backtests no worse than the plain one."""
    n = len(series)
    if n < MIN_STREAMS:
        return {"streams": n, "enough": False, "note": "few_streams"}
    logs = [math.log1p(v) for _, v in series]
    test = backtest(series)
    centre, _beta = predict(logs, None, None)
    effect: dict[str, Any] | None = None
    if reminders is not None and upcoming is not None:
        tested = backtest(series, reminders)
        effect = _reminder_effect(logs, reminders, upcoming, tested["mase"], test["mase"])
        if effect["used"]:
            centre, _beta = predict(logs, [math.log1p(r) for r in reminders], math.log1p(upcoming))
            test = tested
    errors = test.pop("log_errors")
    spread = statistics.stdev(errors) if len(errors) >= 2 else statistics.stdev(logs) if n >= 2 else 0.0
    spread = max(spread, 0.05) * math.sqrt(1 + 1 / n)
    q = float(sstats.t.ppf(0.5 + LEVEL / 2, max(1, len(errors) - 1)))
    return {
        "streams": n,
        "enough": True,
        "note": "little_history" if n < GOOD_STREAMS else None,
        "point": math.expm1(centre),
        "low": max(0.0, math.expm1(centre - q * spread)),
        "high": math.expm1(centre + q * spread),
        "level": LEVEL,
        "baseline": seasonal_naive(series, when),
        "backtest": test,
        "reminders": effect,
    }


def _reminder_effect(
    logs: list[float], reminders: Sequence[int], upcoming: int, mase: float | None, mase_plain: float | None
) -> dict[str, Any]:
    """What the reminders say about the next stream, and whether the model that uses them is the one used."""
    beta = elasticity(logs, [math.log1p(r) for r in reminders])
    better = beta > 0 and (mase_plain is None or (mase is not None and mase <= mase_plain))
    return {
        "upcoming": upcoming,
        "elasticity": beta,
        "per_doubling": 2**beta,  # viewers multiply by this when reminders double
        "history": sum(1 for r in reminders if r > 0),
        "used": better,
        "mase_with": mase,
        "mase_without": mase_plain,
    }


def next_stream(
    streams: list[Stream], when: datetime, upcoming_reminders: int | None = None, room_id: int | None = None
) -> dict[str, Any]:
    """GMV and viewers of the next stream; the viewers use the reminders booked for it when they are known."""
    ended = [s for s in streams if s.ended_at is not None]
    gmv = [(s.started_at, float(s.totals.gmv)) for s in ended]
    viewers = [(s.started_at, float(s.totals.uv)) for s in ended]
    booked = [s.reminders for s in ended]
    return {
        "gmv": forecast_series(gmv, when),
        "viewers": forecast_series(viewers, when, booked, upcoming_reminders),
        "when": when.isoformat(),
        "room_id": room_id,
        "reminders": upcoming_reminders,
    }


def expected_minutes(streams: list[Stream]) -> float:
    lengths = [(s.ended_at - s.started_at).total_seconds() / 60 for s in streams if s.ended_at and s.started_at]
    return statistics.median(lengths) if lengths else DEFAULT_MINUTES


def projection(board: RoomBoard, started: datetime | None, now: datetime, minutes: float) -> dict[str, Any]:
    """The running stream's final GMV: what it has, plus the last 15 minutes' pace of paid orders over the
    minutes expected to remain (a Poisson count of orders at the stream's average order value)."""
    elapsed = (now - started).total_seconds() / 60 if started else 0.0
    remaining = max(0.0, minutes - elapsed)
    last = int(now.timestamp() // 60)
    recent = [board.minutes.get(m_) for m_ in range(last - RECENT_MINUTES + 1, last + 1)]
    window = min(RECENT_MINUTES, max(1.0, elapsed))
    paid = sum(b.paid for b in recent if b)
    aov = board.gmv / board.orders_paid if board.orders_paid else 0.0
    expected_orders = paid / window * remaining
    low, high = (
        sstats.poisson.ppf(q, expected_orders) if expected_orders else 0.0 for q in ((1 - LEVEL) / 2, (1 + LEVEL) / 2)
    )
    return {
        "so_far": board.gmv,
        "projected": board.gmv + expected_orders * aov,
        "low": board.gmv + float(low) * aov,
        "high": board.gmv + float(high) * aov,
        "level": LEVEL,
        "elapsed_minutes": elapsed,
        "expected_minutes": minutes,
        "orders_per_minute": paid / window,
    }


def next_weekly(streams: list[Stream], now: datetime) -> datetime:
    """When the next stream probably is: a week after the last one if that is still ahead, else tomorrow."""
    if streams and streams[-1].started_at + timedelta(days=7) > now:
        return streams[-1].started_at + timedelta(days=7)
    return now + timedelta(days=1)
