"""Who is buying, for the flash-sale hot path: the signed-in user behind a session cookie, remembered for a
few minutes per process so that ten thousand attempts do not cost twenty thousand database reads.

Viewers' sessions are remembered when their room page loads its commerce snapshot, before the sale starts;
sessions not remembered (the page opened long before, or another process served it) are looked up a batch
per query. A session that ends in this process (sign-out, password change, site ban) is forgotten at once;
one that ended in another process stays usable here for at most ``FLASH_SESSION_CACHE_SECONDS`` (default
300; 0 turns the memory off) — only for flash-sale attempts, which create nothing but a pending order the
buyer must still pay. CSRF is checked on every call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from knowcast import csrf
from knowcast.accounts import service as accounts
from knowcast.accounts.permissions import Permission
from knowcast.batches import Batches
from knowcast.bus import Event, EventBus
from knowcast.db.engine import Database
from knowcast.deps import SESSION_COOKIE, Ctx
from knowcast.errors import AuthenticationRequired

MAX_ENTRIES = 200_000


class SessionCache:
    """Cookie token → user id, each for as many seconds as it was put for."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, int]] = {}

    def get(self, token: str) -> int | None:
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def forget_user(self, user_id: int) -> None:
        """An account's sessions ended in this process (sign-out, password change, site ban)."""
        for token in [token for token, (_, owner) in self._entries.items() if owner == user_id]:
            del self._entries[token]

    def put(self, token: str, user_id: int, seconds: float) -> None:
        if seconds <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token] = (time.monotonic() + seconds, user_id)


CACHE = SessionCache()
BATCH = 500  # tokens per query: well under SQLite's bound on a statement's parameters


class SessionLookups:
    """Sessions the cache does not know, looked up together (knowcast/batches.py, no window: a buyer racing
    for a flash sale waits for nobody): the tokens asked for while a query runs wait for the next one, so a
    crowd whose sessions were never seen (the room opened long before the sale) costs one query per batch of
    buyers instead of two per buyer. Found sessions go into ``CACHE``."""

    def __init__(self, db: Database, remember_seconds: float) -> None:
        self._db = db
        self._remember = remember_seconds
        self._batches: Batches[str, int | None] = Batches(self._read, size=BATCH)

    def remember(self, token: str, user_id: int) -> None:
        """A session seen signed in (the room page's snapshot, a lookup): kept for ``remember_seconds``."""
        CACHE.put(token, user_id, self._remember)

    async def user_id(self, token: str) -> int | None:
        found = CACHE.get(token)
        if found is not None:
            return found
        return await self._batches.get(token)

    async def _read(self, tokens: list[str]) -> Mapping[str, int | None]:
        async with self._db.session() as session:
            found = await accounts.session_user_ids(session, tokens)
        for token, user_id in found.items():
            self.remember(token, user_id)
        return found


async def buyer_id(request: Request, ctx: Ctx) -> int:
    """The signed-in user's id (any role may buy), from the app's session lookups; CSRF checked."""
    token = request.cookies.get(SESSION_COOKIE)
    user_id = await ctx.runtime(SessionLookups).user_id(token) if token else None
    if user_id is None:
        raise AuthenticationRequired("sign in first")
    await csrf.verify(request, ctx.settings.secret_key)
    return user_id


buyer_id.permission = Permission.VIEW  # type: ignore[attr-defined]  # read by the route-guard test
BuyerId = Annotated[int, Depends(buyer_id)]


def subscribe(bus: EventBus) -> None:
    """Sessions that end in this process are forgotten at once; other processes forget them within
    ``FLASH_SESSION_CACHE_SECONDS``."""

    async def ended(event: Event) -> None:
        user_id = event.data.get("user_id")
        if isinstance(user_id, int):
            CACHE.forget_user(user_id)

    for name in ("user.signed_out", "user.password_changed", "user.disabled"):
        bus.subscribe(name, ended)
