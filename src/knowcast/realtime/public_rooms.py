"""Public rooms as the live endpoint admits viewers into them: read once for a crowd, refreshed behind it.

Ten thousand viewers arriving at a room within seconds all need the room (is it there, is it public). Read one
by one that is a database session each; read once and kept ``TTL`` seconds, the crowd still stalled every
``TTL`` seconds: the copy expired, every join of that moment opened its own session (249 at once in a storm,
each through aiosqlite's threads), and those joins, and everyone waiting behind them, took 0.4–1 s more
(docs/benchmarks.md, "Join storm"). So:

- the first viewer with no copy reads the room and the viewers arriving meanwhile wait for that one read;
- a copy older than ``TTL`` is still used, while one read in the background replaces it: a room made private or
  deleted stops admitting viewers without a ticket within ``TTL`` seconds and that read;
- only public rooms are kept; the others are read for each viewer, who is then checked (tickets, memberships).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from knowcast.rooms.states import AccessMode

Read = Callable[[], Awaitable[Any]]


class PublicRooms:
    TTL = 5.0
    MAX_ROOMS = 1000

    def __init__(self) -> None:
        self._rooms: dict[int, tuple[float, Any]] = {}  # room id -> (when read, room)
        self._reading: dict[int, asyncio.Future[Any]] = {}

    async def get(self, room_id: int, read: Read) -> Any:
        """The room: the kept copy (refreshed in the background once old), or ``read()`` shared by everyone
        asking until it is done (its exception, NotFound say, is each asker's)."""
        kept = self._rooms.get(room_id)
        if kept is None:
            return await asyncio.shield(self._read(room_id, read))
        if time.monotonic() - kept[0] > self.TTL:
            self._read(room_id, read)  # in the background: this viewer and those arriving meanwhile are let in
        return kept[1]

    def _read(self, room_id: int, read: Read) -> asyncio.Future[Any]:
        reading = self._reading.get(room_id)
        if reading is None:
            reading = self._reading[room_id] = asyncio.ensure_future(self._read_and_keep(room_id, read))
            reading.add_done_callback(partial(self._done, room_id))
        return reading

    async def _read_and_keep(self, room_id: int, read: Read) -> Any:
        room = await read()
        if room.access_mode is AccessMode.PUBLIC:
            if len(self._rooms) >= self.MAX_ROOMS:
                self._rooms.clear()
            self._rooms[room_id] = (time.monotonic(), room)
        else:
            self._rooms.pop(room_id, None)  # made private: each viewer is checked from now on
        return room

    def _done(self, room_id: int, reading: asyncio.Future[Any]) -> None:
        del self._reading[room_id]
        if not reading.cancelled() and reading.exception() is not None:
            self._rooms.pop(room_id, None)  # gone, say: the next viewer's own read tells them
