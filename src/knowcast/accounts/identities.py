"""Who is arriving: session cookie → ``Identity``, for a crowd opening a room at once.

Ten thousand viewers joining one room within seconds each show their session cookie to the room page and to
the live socket. Each lookup waits for the next batch query (at most BATCH tokens; the tokens asked for while
a query runs go into the next), so a crowd costs one query per few hundred viewers instead of two each. A
found identity is kept for ``TTL`` seconds (a page reload, the socket opened right after the page), not
longer: a session ended in another process (sign-out, a password change, a ban) is believed here for at
most that long; one ended in this process is forgotten at once.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from knowcast.accounts.service import Identity, session_identities
from knowcast.bus import Event, EventBus
from knowcast.db.engine import Database

TTL = 5.0
BATCH = 500  # tokens per query: well under SQLite's bound on a statement's parameters
MAX_ENTRIES = 100_000


class IdentityLookups:
    def __init__(self, db: Database, ttl: float = TTL) -> None:
        self._db = db
        self._ttl = ttl
        self._known: dict[str, tuple[float, Identity | None]] = {}
        self._waiting: dict[str, asyncio.Future[Identity | None]] = {}
        self._running: asyncio.Task[None] | None = None
        self.queries = 0

    def subscribe(self, bus: EventBus) -> None:
        async def ended(event: Event) -> None:
            user_id = event.data.get("user_id")
            if isinstance(user_id, int):
                self.forget_user(user_id)

        for name in ("user.signed_out", "user.password_changed", "user.disabled", "user.deleted", "user.updated"):
            bus.subscribe(name, ended)

    def forget_user(self, user_id: int) -> None:
        gone = [token for token, (_, who) in self._known.items() if who is not None and who.user_id == user_id]
        for token in gone:
            del self._known[token]

    async def get(self, token: str) -> Identity | None:
        known = self._known.get(token)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        waiting = self._waiting.get(token)
        if waiting is None:
            waiting = self._waiting[token] = asyncio.get_running_loop().create_future()
            if self._running is None:
                self._running = asyncio.create_task(self._drain())
        return await asyncio.shield(waiting)  # one who hangs up does not cancel the others' answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                tokens = list(itertools.islice(self._waiting, BATCH))
                await self._answer({token: self._waiting.pop(token) for token in tokens})
        finally:
            self._running = None

    async def _answer(self, batch: dict[str, asyncio.Future[Identity | None]]) -> None:
        try:
            self.queries += 1
            async with self._db.session() as session:
                found = await session_identities(session, batch)
        except Exception as exc:  # every waiting caller hears of it (their request fails as its own error)
            for waiting in batch.values():
                if not waiting.done():
                    waiting.set_exception(exc)
                    waiting.exception()
            return
        if len(self._known) + len(batch) > MAX_ENTRIES:
            self._known.clear()
        until = time.monotonic() + self._ttl
        for token, waiting in batch.items():
            identity = found.get(token)
            self._known[token] = (until, identity)
            if not waiting.done():
                waiting.set_result(identity)
