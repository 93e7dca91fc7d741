"""Standings of a crowd joining a room's live socket, from the room's people read once.

Ten thousand viewers arriving in one room within seconds each need their standing (badge, moderator, guest,
ban, mute) in the ``welcome``. What decides it is the same for all of them: the room's moderators, guests and
sanctions in force (``moderation.RoomPeople``), a few rows. They are read once (the viewers arriving while
that read runs share it) and kept until an event changes them (``STANDING_EVENTS``: in this process at once,
in the others by the hub's appliers within the tick) or ``TTL`` seconds have passed, whichever comes first;
a mute that ran out meanwhile is read as over. So a crowd costs three queries per room every few seconds
instead of three per batch of arrivals, and a viewer joining after a ban or a new moderator is told so.
"""

from __future__ import annotations

import asyncio
import time

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.db.engine import Database
from knowcast.db.types import utcnow
from knowcast.interaction import moderation
from knowcast.rooms.models import Room

TTL = 5.0
STANDING_EVENTS = frozenset(
    {
        "chat.user_banned",
        "chat.user_unbanned",
        "chat.user_muted",
        "chat.user_unmuted",
        "room.moderator_added",
        "room.moderator_removed",
        "room.guest_added",
        "room.guest_removed",
    }
)


class StandingLookups:
    def __init__(self, db: Database, ttl: float = TTL) -> None:
        self._db = db
        self._ttl = ttl
        self._people: dict[int, tuple[float, moderation.RoomPeople]] = {}
        self._loading: dict[int, asyncio.Future[moderation.RoomPeople]] = {}
        self._generation = 0
        self.queries = 0  # rooms' people read so far (three queries each)

    async def get(self, room: Room, user_id: int, role: Role) -> moderation.Standing:
        people = await self._of(room.id)
        return people.standing(room, user_id, role, utcnow())

    async def on_event(self, event: Event) -> None:
        room_id = event.data.get("room_id")
        if event.name in STANDING_EVENTS and isinstance(room_id, int):
            self.forget(room_id)

    def forget(self, room_id: int) -> None:
        """The room's people changed: the next arrival reads them again (a read under way is not kept)."""
        self._generation += 1
        self._people.pop(room_id, None)
        self._loading.pop(room_id, None)

    async def _of(self, room_id: int) -> moderation.RoomPeople:
        cached = self._people.get(room_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        loading = self._loading.get(room_id)
        if loading is None:  # a crowd arriving together shares one read
            loading = self._loading[room_id] = asyncio.ensure_future(self._load(room_id))
            loading.add_done_callback(lambda done: self._loaded(room_id, done))
        return await asyncio.shield(loading)

    def _loaded(self, room_id: int, done: asyncio.Future[moderation.RoomPeople]) -> None:
        if self._loading.get(room_id) is done:
            del self._loading[room_id]

    async def _load(self, room_id: int) -> moderation.RoomPeople:
        generation = self._generation
        people = await self._db.read(moderation.room_people_now, room_id)
        self.queries += 1
        if generation == self._generation:
            self._people[room_id] = (time.monotonic() + self._ttl, people)
        return people
