"""Sliding-window rate limits keyed by any string (an account, an address, a room and user)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from knowcast.errors import ErrorCode, RateLimited


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key, kept in memory.

    Old keys are forgotten lazily, so memory stays bounded by the keys active within one window.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._last_sweep = clock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may hit again; 0 when it may now."""
        now = self._clock()
        hits = self._recent(key, now)
        return 0.0 if len(hits) < self.limit else hits[0] + self.window - now

    def hit(self, key: str, *, code: str = ErrorCode.RATE_LIMITED, message: str = "too many attempts") -> None:
        """Record one hit, or raise RateLimited when the key is over its limit."""
        now = self._clock()
        self._sweep(now)
        hits = self._recent(key, now)
        if len(hits) >= self.limit:
            wait = int(hits[0] + self.window - now) + 1
            raise RateLimited(f"{message}; try again in {wait} s", retry_after=wait, code=code)
        hits.append(now)

    def record(self, key: str) -> None:
        """Count one hit without refusing it (the caller decided already)."""
        now = self._clock()
        self._sweep(now)
        self._recent(key, now).append(now)

    def recent(self, key: str) -> tuple[int, float | None]:
        """How many hits ``key`` has within the window, and when the last one was."""
        hits = self._recent(key, self._clock()) if key in self._hits else ()
        return len(hits), (hits[-1] if hits else None)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window:
            return
        self._last_sweep = now
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[key]
