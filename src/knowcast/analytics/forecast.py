"""Forecasts: the next stream's GMV and viewers from the host's history, and the running stream's final GMV.

The next stream: candidate models (seasonal naive, ETS, a regression on trend, weekly slots, promotions and
reminders) chosen by a rolling-origin backtest, with ranges calibrated from the chosen model's own backtest
errors (knowcast.analytics.forecast_models, which says how). The headline is never a model that loses to
seasonal naive on that backtest. Reminders (预约) booked for the next stream are a term of the regression of
viewers; that model is used only when it wins the backtest, and the page shows both MASEs. Below
forecast_models.MIN_HISTORY streams the answer says the history is thin and gives seasonal naive with the
history's own range.

The running stream: so far + the last 15 minutes' pace of paid orders over the minutes expected to remain.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scipy import stats as sstats

from knowcast.analytics import forecast_models as fm
from knowcast.analytics.facts_read import Stream

if TYPE_CHECKING:
    from knowcast.analytics.live import RoomBoard

MIN_STREAMS = 1  # with fewer, there is nothing to say at all
LEVEL = fm.LEVEL
RECENT_MINUTES = 15
DEFAULT_MINUTES = 120
HISTORY_SHOWN = 24  # past streams drawn beside the forecast


def forecast_series(
    series: list[tuple[datetime, float]],
    when: datetime,
    reminders: Sequence[int] | None = None,
    upcoming: int | None = None,
    promotions: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """The next value (a stream at ``when``) with its range, the model that made it and its backtest; with the
    past streams' ``reminders`` and the next one's (``upcoming``), the reminder term may win the backtest."""
    n = len(series)
    if n < MIN_STREAMS:
        return {"streams": n, "enough": False, "note": "few_streams"}
    flags = promotions if promotions is not None else [False] * n
    booked: Sequence[float | None] = (
        [float(r) for r in reminders] if reminders is not None and upcoming is not None else [None] * n
    )
    points = [fm.Point(at, v, bool(f), r) for (at, v), f, r in zip(series, flags, booked, strict=True)]
    coming = float(upcoming) if reminders is not None and upcoming is not None else None
    result = fm.forecast(points, [fm.Point(when, 0.0, False, coming)])
    test = dict(result["backtest"])  # type: ignore[call-overload]
    test["mase_baseline"] = test["mase_seasonal_naive"]
    out = {
        "streams": n,
        "enough": result["enough"],
        "note": result["note"] or ("little_history" if n < fm.MIN_HISTORY + 4 else None),
        "model": result["model"],
        "point": result["points"][0],  # type: ignore[index]
        "low": result["low"][0],  # type: ignore[index]
        "high": result["high"][0],  # type: ignore[index]
        "level": LEVEL,
        "baseline": math.expm1(float(fm.seasonal_naive(points, [fm.Point(when, 0.0)])[0])),
        "backtest": test,
        "reminders": None,
        "history": [{"at": at.isoformat(), "value": v} for at, v in series[-HISTORY_SHOWN:]],
    }
    if coming is not None:
        out["reminders"] = _reminder_effect(points, int(coming), result)
    return out


def _reminder_effect(points: list[fm.Point], upcoming: int, result: dict[str, Any]) -> dict[str, Any]:
    """What the reminders say about the next stream, and whether the model that uses them is the one used."""
    models = result["backtest"]["models"]
    without = [m for name, m in models.items() if name != "regression_reminders" and m is not None]
    beta = fm.reminder_elasticity(points)
    return {
        "upcoming": upcoming,
        "elasticity": beta,
        "per_doubling": 2**beta,  # viewers multiply by this when reminders double
        "history": sum(1 for p in points if p.reminders),
        "used": result["model"] == "regression_reminders",
        "mase_with": models.get("regression_reminders"),
        "mase_without": min(without) if without else None,
    }


def next_stream(
    streams: list[Stream], when: datetime, upcoming_reminders: int | None = None, room_id: int | None = None
) -> dict[str, Any]:
    """GMV and viewers of the next stream; the viewers use the reminders booked for it when they are known."""
    ended = [s for s in streams if s.ended_at is not None]
    gmv = [(s.started_at, float(s.totals.gmv)) for s in ended]
    viewers = [(s.started_at, float(s.totals.uv)) for s in ended]
    booked = [s.reminders for s in ended]
    promoted = [s.promotion for s in ended]
    return {
        "gmv": forecast_series(gmv, when, promotions=promoted),
        "viewers": forecast_series(viewers, when, booked, upcoming_reminders, promotions=promoted),
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
