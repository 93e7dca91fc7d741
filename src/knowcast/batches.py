"""Lookups a crowd shares: many callers ask for one key each, one read answers them together.

Ten thousand viewers opening a room within seconds each need their own small part (who the session is, their
standing in the room, their pending orders, their coupons). Read one by one, that is queries times the crowd.
``Batches`` gathers the keys asked for within ``window`` seconds of the first (and those asked for while a
read runs) and answers them with one call of ``read`` per ``size`` keys. The window is the price a lone
caller pays (a few milliseconds); in a crowd it turns hundreds of small reads into a few large ones.

A failed read fails every caller of its batch with the read's exception (each caller's request then fails as
its own error); a caller who gives up does not cancel the others' answer. Each caller waits on a future of its
own, which the read answers directly: no shield between them, so a caller resumes one turn of the event loop
after the read (a join in a storm waits for two or three of these, and under load every turn is long).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Read = Callable[[list[K]], Awaitable[Mapping[K, V]]]


class Batches(Generic[K, V]):
    """``await batches.get(key)``: the value ``read`` gives for ``key`` (``missing`` when it gives none)."""

    def __init__(self, read: Read[K, V], *, size: int, window: float = 0.0, missing: V | None = None) -> None:
        self._read = read
        self._size = size
        self._window = window
        self._missing = missing
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}  # each key's callers, a future each
        self._running: asyncio.Task[None] | None = None
        self.reads = 0  # calls of ``read`` so far (each a batch)

    async def get(self, key: K) -> V:
        mine: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(mine)
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        return await mine

    async def _drain(self) -> None:
        try:
            if self._window:
                await asyncio.sleep(self._window)  # let the crowd arriving with the first caller gather
            while self._waiting:
                keys = list(itertools.islice(self._waiting, self._size))
                await self._answer({key: self._waiting.pop(key) for key in keys})
        finally:
            self._running = None

    async def _answer(self, batch: dict[K, list[asyncio.Future[V]]]) -> None:
        try:
            self.reads += 1
            found = await self._read(list(batch))
        except Exception as exc:
            for callers in batch.values():
                for waiting in callers:
                    if not waiting.done():  # done: that caller gave up
                        waiting.set_exception(exc)
            return
        for key, callers in batch.items():
            value = found.get(key, self._missing)
            for waiting in callers:
                if not waiting.done():
                    waiting.set_result(value)  # type: ignore[arg-type]
