"""Standings of a crowd joining a room's live socket, read in batches.

Ten thousand viewers arriving in one room within seconds each need their standing (badge, moderator, guest,
ban, mute) in the ``welcome``. Each lookup waits for the next batch (knowcast/batches.py: at most BATCH users,
those asked for within WINDOW or while a batch is read), so a crowd costs three queries per many viewers
instead of three each. Nothing is kept after the answer: a viewer arriving after a ban or a new moderator was
committed reads it, as before.
"""

from __future__ import annotations

from collections.abc import Mapping

from knowcast.accounts.models import Role
from knowcast.batches import Batches
from knowcast.db.engine import Database
from knowcast.interaction import moderation
from knowcast.rooms.models import Room

BATCH = 400  # users per query: well under SQLite's bound on a statement's parameters
WINDOW = 0.005  # seconds a lone arrival waits for others to share its queries

Ask = tuple[int, int, Role]  # room, user, the user's site role


class StandingLookups:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._rooms: dict[int, Room] = {}  # the room each waiting ask is about, as its caller had it
        self._batches: Batches[Ask, moderation.Standing] = Batches(self._read, size=BATCH, window=WINDOW)

    @property
    def queries(self) -> int:
        """Batches read so far (each three queries)."""
        return self._batches.reads

    async def get(self, room: Room, user_id: int, role: Role) -> moderation.Standing:
        self._rooms[room.id] = room
        return await self._batches.get((room.id, user_id, role))

    async def _read(self, asks: list[Ask]) -> Mapping[Ask, moderation.Standing]:
        by_room: dict[int, dict[int, Role]] = {}
        for room_id, user_id, role in asks:
            by_room.setdefault(room_id, {})[user_id] = role
        found: dict[Ask, moderation.Standing] = {}
        for room_id, users in by_room.items():
            standings = await self._db.read(moderation.standings_now, self._rooms[room_id], users)
            found.update({(room_id, user_id, role): standings[user_id] for user_id, role in users.items()})
        return found
