"""Who is arriving: session cookie → ``Identity``, for a crowd opening a room at once.

Ten thousand viewers joining one room within seconds each show their session cookie to the room page and to
the live socket. Each lookup waits for the next batch query (knowcast/batches.py: at most BATCH tokens, those
asked for within WINDOW or while a query runs), so a crowd costs one query per many viewers instead of two
each. A
found identity is kept for ``TTL`` seconds (a page reload, the socket opened right after the page), not
longer: a session ended in another process (sign-out, a password change, a ban) is believed here for at
most that long; one ended in this process is forgotten at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from knowcast.accounts.service import Identity, session_identities
from knowcast.batches import Batches
from knowcast.bus import Event, EventBus
from knowcast.db.engine import Database

TTL = 5.0
BATCH = 500  # tokens per query: well under SQLite's bound on a statement's parameters
WINDOW = 0.005  # seconds a lone arrival waits for others to share its query
MAX_ENTRIES = 100_000


class IdentityLookups:
    def __init__(self, db: Database, ttl: float = TTL) -> None:
        self._db = db
        self._ttl = ttl
        self._known: dict[str, tuple[float, Identity | None]] = {}
        self._batches: Batches[str, Identity | None] = Batches(self._read, size=BATCH, window=WINDOW)

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
        return await self._batches.get(token)

    async def _read(self, tokens: list[str]) -> Mapping[str, Identity | None]:
        found = await self._db.read(session_identities, tokens)
        if len(self._known) + len(tokens) > MAX_ENTRIES:
            self._known.clear()
        until = time.monotonic() + self._ttl
        for token in tokens:
            self._known[token] = (until, found.get(token))
        return found
