"""How views overlap in time: open views now, the peak and when, the most open views in each minute.

One sweep over sorted start/end points (numpy: a big stream has a hundred thousand views), shared by the live
board (from the views' spans in memory) and the stored report (from the view sessions in the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Overlap:
    peak: int = 0
    peak_at: datetime | None = None
    per_minute: dict[int, int] = field(default_factory=dict)  # minute → the most views open during it
    open_now: int = 0


def sweep(starts: NDArray[np.float64], ends: NDArray[np.float64], open_now: int = 0) -> Overlap:
    """Views open from ``starts[i]`` until ``ends[i]`` (unix seconds). At the same instant an end sorts before a
    start, so a view that ends as another begins is no overlap; ties resolve the same way in any input order."""
    if len(starts) == 0:
        return Overlap(open_now=open_now)
    times = np.round(np.concatenate([starts, ends]), 3)  # julianday arithmetic is off by microseconds
    steps = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((steps, times))
    times, counts = times[order], np.cumsum(steps[order])
    best = int(np.argmax(counts))
    minutes = np.floor(times / 60).astype(np.int64)
    firsts = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1]])
    most = np.maximum.reduceat(counts, firsts)
    carried = np.r_[0, counts[firsts[1:] - 1]]  # open when the minute began
    per_minute: dict[int, int] = {}
    last_count = 0
    for index, minute in enumerate(minutes[firsts].tolist()):
        for gap in range(max(per_minute, default=minute) + 1, minute):
            per_minute[gap] = last_count
        per_minute[minute] = int(max(most[index], carried[index]))
        last_count = int(counts[firsts[index + 1] - 1]) if index + 1 < len(firsts) else int(counts[-1])
    peak_at = datetime.fromtimestamp(float(times[best]), UTC)
    return Overlap(int(counts[best]), peak_at, per_minute, open_now)
