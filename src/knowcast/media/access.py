"""Who may fetch a room's video: public rooms to anyone; other rooms to those ``ensure_can_watch`` lets in,
or to anyone holding a signed, expiring media token (what the playlists we hand out carry, so segment
requests need no session lookup and work through a CDN or an external player).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.rooms import service as rooms
from knowcast.rooms.states import AccessMode, RoomState
from knowcast.timing import same_secret

ROOM_CACHE_SECONDS = 2.0


def sign(secret: str, room_id: int, expires: int) -> str:
    digest = hmac.new(secret.encode(), f"media:{room_id}:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{digest[:32]}"


def new_token(secret: str, room_id: int, ttl_seconds: int, now: float | None = None) -> str:
    now = time.time() if now is None else now
    return sign(secret, room_id, int(now) + ttl_seconds)


def token_valid(secret: str, room_id: int, token: str | None, now: float | None = None) -> bool:
    if not token or "." not in token:
        return False
    expires, _, _sig = token.partition(".")
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return False
    return same_secret(token, sign(secret, room_id, int(expires)))


@dataclass(frozen=True)
class RoomFacts:
    room_id: int
    access_mode: AccessMode
    state: RoomState

    @property
    def public(self) -> bool:
        return self.access_mode is AccessMode.PUBLIC


class RoomFactsCache:
    """Room id → access mode and state, kept for a moment: every viewer asks for a segment every second."""

    def __init__(self, ttl: float = ROOM_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._facts: dict[int, tuple[float, RoomFacts]] = {}

    async def get(self, session: AsyncSession, room_id: int) -> RoomFacts:
        now = time.monotonic()
        cached = self._facts.get(room_id)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        room = await rooms.get_room(session, room_id)
        facts = RoomFacts(room.id, room.access_mode, room.state)
        if len(self._facts) > 10_000:
            self._facts.clear()
        self._facts[room_id] = (now, facts)
        return facts


async def ensure_can_fetch(session: AsyncSession, user: User | None, room_id: int) -> None:
    """The room's own rule (raises AuthenticationRequired / PermissionDenied with the room's code)."""
    room = await rooms.get_room(session, room_id)
    await rooms.ensure_can_watch(session, user, room)
