"""Who is buying, for the flash-sale hot path: the signed-in user behind a session cookie, remembered for a
few seconds per process so that ten thousand attempts do not cost twenty thousand database reads.

Viewers' sessions are remembered when their room page loads its commerce snapshot, minutes before the sale
starts. A session signed out elsewhere stays usable here for at most ``TTL_SECONDS`` — only for flash-sale
attempts, which create nothing but a pending order the buyer must still pay. CSRF is checked on every call.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from knowcast import csrf
from knowcast.accounts import service as accounts
from knowcast.accounts.permissions import Permission
from knowcast.deps import SESSION_COOKIE, Ctx, Db
from knowcast.errors import AuthenticationRequired

TTL_SECONDS = 300.0
MAX_ENTRIES = 200_000


class SessionCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, int]] = {}

    def get(self, token: str) -> int | None:
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token: str, user_id: int) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token] = (time.monotonic() + TTL_SECONDS, user_id)


CACHE = SessionCache()


async def buyer_id(request: Request, ctx: Ctx, db: Db) -> int:
    """The signed-in user's id (any role may buy), from the cache or the database; CSRF checked."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationRequired("sign in first")
    user_id = CACHE.get(token)
    if user_id is None:
        user = await accounts.resolve_session(db, token)
        await db.close()  # give the connection back before the gate
        if user is None:
            raise AuthenticationRequired("sign in first")
        user_id = user.id
        CACHE.put(token, user_id)
    await csrf.verify(request, ctx.settings.secret_key)
    return user_id


buyer_id.permission = Permission.VIEW  # type: ignore[attr-defined]  # read by the route-guard test
BuyerId = Annotated[int, Depends(buyer_id)]
