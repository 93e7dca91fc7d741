"""Standings of a crowd joining a room's live socket, read in batches.

Ten thousand viewers arriving in one room within seconds each need their standing (badge, moderator, guest,
ban, mute) in the ``welcome``. Each lookup waits for the next batch (at most BATCH users of one room; those
asked for while a batch is read go into the next), so a crowd costs three queries per few hundred viewers
instead of three each. Nothing is kept after the answer: a viewer arriving after a ban or a new moderator was
committed reads it, as before.
"""

from __future__ import annotations

import asyncio
import itertools

from knowcast.accounts.models import Role
from knowcast.db.engine import Database
from knowcast.interaction import moderation
from knowcast.rooms.models import Room

BATCH = 400  # users per query: well under SQLite's bound on a statement's parameters

Waiting = dict[int, tuple[Role, "asyncio.Future[moderation.Standing]"]]


class StandingLookups:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: dict[int, tuple[Room, Waiting]] = {}
        self._running: asyncio.Task[None] | None = None
        self.queries = 0  # batches read (each three queries)

    async def get(self, room: Room, user_id: int, role: Role) -> moderation.Standing:
        _, users = self._waiting.setdefault(room.id, (room, {}))
        found = users.get(user_id)
        if found is None:
            found = users[user_id] = (role, asyncio.get_running_loop().create_future())
            if self._running is None:
                self._running = asyncio.create_task(self._drain())
        return await asyncio.shield(found[1])  # one who hangs up does not cancel the others' answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                room_id = next(iter(self._waiting))
                room, users = self._waiting[room_id]
                batch = {user_id: users.pop(user_id) for user_id in list(itertools.islice(users, BATCH))}
                if not users:
                    del self._waiting[room_id]
                await self._answer(room, batch)
        finally:
            self._running = None

    async def _answer(self, room: Room, batch: Waiting) -> None:
        try:
            self.queries += 1
            async with self._db.session() as session:
                found = await moderation.standings(session, room, {uid: role for uid, (role, _) in batch.items()})
        except Exception as exc:  # every waiting caller hears of it (their socket fails as its own error)
            for _, waiting in batch.values():
                if not waiting.done():
                    waiting.set_exception(exc)
                    waiting.exception()
            return
        for user_id, (_, waiting) in batch.items():
            if not waiting.done():
                waiting.set_result(found[user_id])
