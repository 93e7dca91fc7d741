"""连麦 invitations: the host makes a single-use, expiring link (for a room guest or for anyone holding it); the
guest's browser presents its token to publish onto the stage. Only the token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.db.types import utcnow
from knowcast.errors import AuthenticationRequired, Conflict, PermissionDenied, ValidationFailed
from knowcast.interaction.models import RoomGuest
from knowcast.media.errors import MediaCode
from knowcast.media.models import GuestInvite
from knowcast.rooms.models import Room
from knowcast.rooms.states import RoomState

TOKEN_BYTES = 24


@dataclass(frozen=True)
class NewInvite:
    invite: GuestInvite
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refused(message: str, code: str) -> AuthenticationRequired:
    return AuthenticationRequired(message, code=code, headers={"WWW-Authenticate": "Bearer"})


async def create(
    session: AsyncSession, host: User, room: Room, *, user_id: int | None, name: str, ttl_seconds: int
) -> NewInvite:
    """A new invitation to ``room`` (the caller has checked that ``host`` manages it)."""
    if room.state is RoomState.ENDED:
        raise Conflict("this room has ended", code=MediaCode.MEDIA_ROOM_ENDED)
    if user_id is not None:
        guest = await session.scalar(
            select(User)
            .join(RoomGuest, RoomGuest.user_id == User.id)
            .where(RoomGuest.room_id == room.id, RoomGuest.user_id == user_id)
        )
        if guest is None:
            raise ValidationFailed(
                "that user is not a guest of this room: add them as a guest first, or invite by link",
                code=MediaCode.MEDIA_NOT_A_GUEST,
                fields={"user_id": "not a guest of this room"},
            )
        name = name or guest.display_name
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invite = GuestInvite(
        room_id=room.id,
        token_hash=hash_token(token),
        user_id=user_id,
        name=name,
        created_by=host.id,
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    session.add(invite)
    await session.commit()
    return NewInvite(invite, token)


async def check(session: AsyncSession, token: str, now: datetime | None = None) -> GuestInvite:
    """The invitation this token stands for, if it can still be used (else 401 with a stable code)."""
    invite = await session.scalar(select(GuestInvite).where(GuestInvite.token_hash == hash_token(token)))
    if invite is None:
        raise _refused("this invitation is not valid", MediaCode.MEDIA_INVITE_INVALID)
    if invite.used_at is not None:
        raise _refused("this invitation has been used already; ask the host for a new one", MediaCode.MEDIA_INVITE_USED)
    if invite.expires_at <= (now or utcnow()):
        raise _refused("this invitation has expired; ask the host for a new one", MediaCode.MEDIA_INVITE_EXPIRED)
    room = await session.get(Room, invite.room_id)
    if room is None or room.state is RoomState.ENDED:
        raise Conflict("this room has ended", code=MediaCode.MEDIA_ROOM_ENDED)
    return invite


def ensure_invitee(invite: GuestInvite, user_id: int | None) -> None:
    """An invitation for one of the room's guests works only in that guest's signed-in browser."""
    if invite.user_id is None or invite.user_id == user_id:
        return
    if user_id is None:
        raise AuthenticationRequired(
            f"this invitation is for {invite.name or 'a guest of the room'}: sign in as them to join",
            code=MediaCode.MEDIA_SIGNIN_REQUIRED,
        )
    raise PermissionDenied("this invitation is for another account", code=MediaCode.MEDIA_INVITE_FOR_ANOTHER)


async def spend(session: AsyncSession, invite_id: int) -> bool:
    """Mark the invitation used; False when someone else spent it first."""
    result = await session.execute(
        update(GuestInvite).where(GuestInvite.id == invite_id, GuestInvite.used_at.is_(None)).values(used_at=utcnow())
    )
    await session.commit()
    return bool(getattr(result, "rowcount", 0))
