"""knowcast.realtime.public_rooms: a crowd reads a room once, and an old copy is refreshed behind it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from knowcast.errors import NotFound
from knowcast.realtime.public_rooms import PublicRooms
from knowcast.rooms.states import AccessMode


class Rooms:
    """The database as the endpoint reads it: counts its reads, each held until ``release``."""

    def __init__(self, mode: AccessMode = AccessMode.PUBLIC) -> None:
        self.mode: AccessMode | None = mode  # None: the room is gone
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def read(self) -> Any:
        self.reads += 1
        await self.gate.wait()
        if self.mode is None:
            raise NotFound("room not found")
        return SimpleNamespace(id=7, access_mode=self.mode, read=self.reads)


async def test_a_crowd_arriving_with_no_copy_shares_one_read() -> None:
    kept, db = PublicRooms(), Rooms()
    db.gate.clear()
    crowd = [asyncio.create_task(kept.get(7, db.read)) for _ in range(50)]
    await asyncio.sleep(0)
    db.gate.set()
    rooms = await asyncio.gather(*crowd)
    assert db.reads == 1 and {room.read for room in rooms} == {1}
    assert (await kept.get(7, db.read)).read == 1 and db.reads == 1  # kept


async def test_an_old_copy_lets_the_crowd_in_while_one_read_replaces_it() -> None:
    kept, db = PublicRooms(), Rooms()
    await kept.get(7, db.read)
    kept.TTL = 0.0  # the copy is old from now on
    db.gate.clear()
    crowd = await asyncio.gather(*(kept.get(7, db.read) for _ in range(50)))
    assert {room.read for room in crowd} == {1}  # nobody waited for the refresh
    assert db.reads == 2  # one refresh for all of them
    db.gate.set()
    await asyncio.sleep(0.01)
    kept.TTL = 60.0
    assert (await kept.get(7, db.read)).read == 2


async def test_a_room_made_private_is_no_longer_kept() -> None:
    kept, db = PublicRooms(), Rooms()
    await kept.get(7, db.read)
    kept.TTL, db.mode = 0.0, AccessMode.TICKET
    await kept.get(7, db.read)  # the old copy, and a refresh
    await asyncio.sleep(0.01)
    first = await kept.get(7, db.read)
    second = await kept.get(7, db.read)
    assert first.access_mode is second.access_mode is AccessMode.TICKET
    assert db.reads == 4  # read for each viewer from then on (each is then checked for a ticket)


async def test_a_missing_room_is_each_askers_error_and_nothing_is_kept() -> None:
    kept, db = PublicRooms(), Rooms()
    db.mode = None
    results = await asyncio.gather(*(kept.get(7, db.read) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(result, NotFound) for result in results) and db.reads == 1
    with pytest.raises(NotFound):
        await kept.get(7, db.read)
    assert db.reads == 2


async def test_a_room_gone_since_its_copy_was_read_is_dropped_at_the_refresh() -> None:
    kept, db = PublicRooms(), Rooms()
    await kept.get(7, db.read)
    kept.TTL, db.mode = 0.0, None
    await kept.get(7, db.read)  # the old copy, and a refresh that finds no room
    await asyncio.sleep(0.01)
    with pytest.raises(NotFound):  # the next viewer's own read tells them
        await kept.get(7, db.read)
