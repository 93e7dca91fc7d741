"""Distinct visitors over the last 5 minutes and the 5 before, updated in O(1) per event.

Visitors are kept in per-minute sets for the last ten minutes. The union of the closed minutes of each window
is computed once when the minute turns; within the running minute a counter tracks the visitors not already
in that union. So an event costs O(1), a read costs O(1), and the once-a-minute rebuild costs the number of
visitors active in the last ten minutes, never the history of the stream.
"""

from __future__ import annotations

from collections import OrderedDict

WINDOW = 5  # minutes


class SlidingDistinct:
    def __init__(self) -> None:
        self._minutes: OrderedDict[int, set[str]] = OrderedDict()
        self._now = -1
        self._closed: set[str] = set()  # union of minutes now-4 .. now-1
        self._previous = 0  # distinct visitors in minutes now-9 .. now-5
        self._fresh = 0  # visitors in the running minute that are not in _closed

    def add(self, minute: int, visitor: str) -> None:
        if minute < self._now - 2 * WINDOW:
            return  # too old to matter for either window
        if minute > self._now:
            self.roll(minute)
        bucket = self._minutes.setdefault(minute, set())
        if visitor in bucket:
            return
        bucket.add(visitor)
        if minute == self._now and visitor not in self._closed:
            self._fresh += 1
        elif minute < self._now:  # a late event for a closed minute: rebuild on the next roll
            self._rebuild()

    def roll(self, minute: int) -> None:
        if minute <= self._now:
            return
        self._now = minute
        for old in [m for m in self._minutes if m <= minute - 2 * WINDOW]:
            del self._minutes[old]
        self._rebuild()

    def _union(self, first: int, last: int) -> set[str]:
        out: set[str] = set()
        for minute, visitors in self._minutes.items():
            if first <= minute <= last:
                out |= visitors
        return out

    def _rebuild(self) -> None:
        now = self._now
        self._closed = self._union(now - WINDOW + 1, now - 1)
        running = self._minutes.get(now, set())
        self._fresh = len(running - self._closed) if running else 0
        self._previous = len(self._union(now - 2 * WINDOW + 1, now - WINDOW))

    def counts(self, minute: int) -> tuple[int, int]:
        """(distinct visitors in the last 5 minutes, distinct visitors in the 5 minutes before)."""
        self.roll(minute)
        return len(self._closed) + self._fresh, self._previous
