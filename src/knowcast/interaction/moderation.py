"""Who moderates a room, and what they do: hide lines, mute and ban, slow mode, moderators, guest experts,
and the shop's banned words. The only code that changes these; each change is published after commit as a
broadcast event, which every server process folds into its chat rules (interaction/chat.py)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from knowcast.accounts import service as accounts
from knowcast.accounts.errors import AccountsCode
from knowcast.accounts.models import Role, User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound, PermissionDenied
from knowcast.interaction.errors import InteractionCode
from knowcast.interaction.models import (
    BannedWord,
    RoomChatSettings,
    RoomGuest,
    RoomModerator,
    RoomSanction,
    SanctionKind,
)
from knowcast.interaction.schemas import PersonIn, PersonOut, SanctionIn
from knowcast.rooms.errors import RoomsCode
from knowcast.rooms.models import Room
from knowcast.rooms.service import ensure_can_manage


@dataclass(frozen=True)
class Standing:
    """One user's place in one room."""

    badge: str | None  # "host", "mod", "guest" or None
    can_moderate: bool
    can_answer: bool
    banned: bool
    muted_until: datetime | None


async def standing(session: AsyncSession, user: User, room: Room) -> Standing:
    return (await standings(session, room, {user.id: user.role}))[user.id]


async def standings(session: AsyncSession, room: Room, users: Mapping[int, Role]) -> dict[int, Standing]:
    return await session.run_sync(standings_now, room, users)


_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_ROOM: BindParameter[int] = bindparam("room")
_ROOM_MODS = select(RoomModerator.user_id).where(RoomModerator.room_id == _ROOM)
_ROOM_GUESTS = select(RoomGuest.user_id).where(RoomGuest.room_id == _ROOM)
_ROOM_SANCTIONS = select(RoomSanction.user_id, RoomSanction.kind, RoomSanction.until).where(
    RoomSanction.room_id == _ROOM,
    RoomSanction.lifted_at.is_(None),
    or_(RoomSanction.until.is_(None), RoomSanction.until > bindparam("now")),
)  # everyone in the room (RoomPeople), and just the users asked for (standings_now), each built once
_MODS = _ROOM_MODS.where(RoomModerator.user_id.in_(_IDS))
_GUESTS = _ROOM_GUESTS.where(RoomGuest.user_id.in_(_IDS))
_SANCTIONS = _ROOM_SANCTIONS.where(RoomSanction.user_id.in_(_IDS))


@dataclass(frozen=True)
class RoomPeople:
    """Everyone with a standing in one room: its moderators, its guests and the sanctions in force (user →
    banned, muted until), as read at one moment; a crowd joining the live socket is told theirs from it."""

    moderators: frozenset[int]
    guests: frozenset[int]
    sanctions: Mapping[int, tuple[bool, datetime | None]]

    def standing(self, room: Room, user_id: int, role: Role, now: datetime) -> Standing:
        banned, muted_until = self.sanctions.get(user_id, (False, None))
        if muted_until is not None and muted_until <= now:
            muted_until = None  # the mute ran out since the read
        mod, guest = user_id in self.moderators, user_id in self.guests
        return _standing(user_id, role, room, mod, guest, (banned, muted_until))


def room_people_now(session: Session, room_id: int) -> RoomPeople:
    """The room's ``RoomPeople`` in three queries (synchronous: read with ``Database.read``)."""
    params = {"room": room_id, "now": utcnow()}
    connection = session.connection()
    return RoomPeople(
        moderators=frozenset(connection.scalars(_ROOM_MODS, params)),
        guests=frozenset(connection.scalars(_ROOM_GUESTS, params)),
        sanctions=_in_force(connection.execute(_ROOM_SANCTIONS, params)),
    )


def standings_now(session: Session, room: Room, users: Mapping[int, Role]) -> dict[int, Standing]:
    """``standing`` for many users of one room in three queries (a crowd joining the live socket together,
    read with ``Database.read``); ``users`` maps each user's id to their site role."""
    params = {"room": room.id, "ids": list(users)}
    connection = session.connection()
    mods = set(connection.scalars(_MODS, params))
    guests = set(connection.scalars(_GUESTS, params))
    sanctions = sanctions_now(session, room.id, list(users))
    return {
        user_id: _standing(user_id, role, room, user_id in mods, user_id in guests, sanctions.get(user_id))
        for user_id, role in users.items()
    }


def _standing(
    user_id: int, role: Role, room: Room, room_mod: bool, guest: bool, sanctioned: tuple[bool, datetime | None] | None
) -> Standing:
    host = role is Role.OWNER or user_id == room.host_id
    can_moderate = host or role is Role.MODERATOR or room_mod
    badge = "host" if user_id == room.host_id else "mod" if can_moderate else "guest" if guest else None
    banned, muted_until = sanctioned or (False, None)
    return Standing(badge, can_moderate, host or guest, banned, muted_until)


async def ensure_can_moderate(session: AsyncSession, user: User, room: Room) -> Standing:
    mine = await standing(session, user, room)
    if not mine.can_moderate:
        raise PermissionDenied(
            "only this room's host and moderators can do that", code=InteractionCode.CHAT_NOT_MODERATOR
        )
    return mine


async def sanctions_of(session: AsyncSession, room_id: int, user_id: int) -> tuple[bool, datetime | None]:
    return (await sanctions_of_many(session, room_id, [user_id])).get(user_id, (False, None))


async def sanctions_of_many(
    session: AsyncSession, room_id: int, user_ids: Collection[int]
) -> dict[int, tuple[bool, datetime | None]]:
    return await session.run_sync(sanctions_now, room_id, user_ids)


def sanctions_now(session: Session, room_id: int, user_ids: Collection[int]) -> dict[int, tuple[bool, datetime | None]]:
    """The users' sanctions in force in a room: banned, and muted until when (only those with any)."""
    rows = session.connection().execute(_SANCTIONS, {"room": room_id, "ids": list(user_ids), "now": utcnow()})
    return _in_force(rows)


def _in_force(rows: Iterable[Any]) -> dict[int, tuple[bool, datetime | None]]:
    """(user, kind, until) rows of sanctions in force → user → (banned, muted until)."""
    found: dict[int, tuple[bool, datetime | None]] = {}
    for user_id, kind, until in rows:
        banned, muted_until = found.get(user_id, (False, None))
        if kind is SanctionKind.BAN:
            banned = True
        elif until is not None and (muted_until is None or until > muted_until):
            muted_until = until
        found[user_id] = (banned, muted_until)
    return found


async def _publish(ctx: AppContext, event: str, room: Room, **data: Any) -> None:
    await ctx.bus.publish(Event(event, {"room_id": room.id, **data}, to_room=True))


async def hide_message(
    session: AsyncSession, ctx: AppContext, actor: User, room: Room, message_id: str, purge_user_id: int | None
) -> None:
    await ensure_can_moderate(session, actor, room)
    data: dict[str, Any] = {"message_id": message_id, "by": actor.id}
    if purge_user_id is not None:
        data.update(user_id=purge_user_id, purge=True)
    await _publish(ctx, "chat.hidden", room, **data)


async def sanction(session: AsyncSession, ctx: AppContext, actor: User, room: Room, data: SanctionIn) -> RoomSanction:
    await ensure_can_moderate(session, actor, room)
    target = await accounts.get_user(session, data.user_id)
    if (await standing(session, target, room)).can_moderate:
        raise Conflict("the host and moderators cannot be muted or banned", code=InteractionCode.CHAT_CANNOT_SANCTION)
    until = None
    if data.kind is SanctionKind.MUTE:
        until = utcnow() + timedelta(seconds=data.seconds or 300)
    row = RoomSanction(
        room_id=room.id, user_id=target.id, kind=data.kind, until=until, reason=data.reason, created_by=actor.id
    )
    session.add(row)
    await session.commit()
    name = "chat.user_banned" if data.kind is SanctionKind.BAN else "chat.user_muted"
    await _publish(ctx, name, room, user_id=target.id, name=target.display_name, until=until and until.isoformat())
    return row


async def lift(
    session: AsyncSession, ctx: AppContext, actor: User, room: Room, user_id: int, kind: SanctionKind
) -> None:
    await ensure_can_moderate(session, actor, room)
    await session.execute(
        update(RoomSanction)
        .where(RoomSanction.room_id == room.id, RoomSanction.user_id == user_id, RoomSanction.kind == kind)
        .where(RoomSanction.lifted_at.is_(None))
        .values(lifted_at=utcnow())
    )
    await session.commit()
    name = "chat.user_unbanned" if kind is SanctionKind.BAN else "chat.user_unmuted"
    await _publish(ctx, name, room, user_id=user_id)


async def slow_mode(session: AsyncSession, room_id: int) -> int:
    settings = await session.get(RoomChatSettings, room_id)
    return settings.slow_mode_seconds if settings else 0


async def set_slow_mode(session: AsyncSession, ctx: AppContext, actor: User, room: Room, seconds: int) -> None:
    await ensure_can_moderate(session, actor, room)
    settings = await session.get(RoomChatSettings, room.id)
    if settings is None:
        session.add(RoomChatSettings(room_id=room.id, slow_mode_seconds=seconds))
    else:
        settings.slow_mode_seconds = seconds
    await session.commit()
    await _publish(ctx, "chat.slow_mode", room, seconds=seconds)


# ---- per-room moderators and guest experts: the host's choice --------------------------------------------


async def _person(session: AsyncSession, data: PersonIn) -> User:
    user = await accounts.find_by_email(session, str(data.email))
    if user is None:
        raise NotFound("no account has this email", code=AccountsCode.USER_NOT_FOUND, fields={"email": "unknown"})
    return user


async def add_moderator(session: AsyncSession, ctx: AppContext, host: User, room: Room, data: PersonIn) -> PersonOut:
    ensure_can_manage(host, room)
    user = await _person(session, data)
    await _insert(session, RoomModerator(room_id=room.id, user_id=user.id), RoomsCode.ROOM_ALREADY_MODERATOR)
    await _publish(ctx, "room.moderator_added", room, user_id=user.id, name=user.display_name)
    return PersonOut(user_id=user.id, name=user.display_name)


async def invite_guest(session: AsyncSession, ctx: AppContext, host: User, room: Room, data: PersonIn) -> PersonOut:
    ensure_can_manage(host, room)
    user = await _person(session, data)
    await _insert(session, RoomGuest(room_id=room.id, user_id=user.id, title=data.title), RoomsCode.ROOM_ALREADY_GUEST)
    await _publish(ctx, "room.guest_added", room, user_id=user.id, name=user.display_name, title=data.title)
    return PersonOut(user_id=user.id, name=user.display_name, title=data.title)


async def _insert(session: AsyncSession, row: RoomModerator | RoomGuest, code: RoomsCode) -> None:
    session.add(row)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("already added", code=code) from exc


async def remove_person(
    session: AsyncSession, ctx: AppContext, host: User, room: Room, user_id: int, table: type[RoomModerator | RoomGuest]
) -> None:
    ensure_can_manage(host, room)
    await session.execute(delete(table).where(table.room_id == room.id, table.user_id == user_id))
    await session.commit()
    name = "room.moderator_removed" if table is RoomModerator else "room.guest_removed"
    await _publish(ctx, name, room, user_id=user_id)


async def people(session: AsyncSession, room: Room, table: type[RoomModerator | RoomGuest]) -> list[PersonOut]:
    rows = await session.execute(
        select(table, User.display_name).join(User, User.id == table.user_id).where(table.room_id == room.id)
    )
    return [
        PersonOut(user_id=getattr(row, "user_id"), name=name, title=getattr(row, "title", ""))  # noqa: B009
        for row, name in rows.tuples()
    ]


# ---- the shop's banned words ---------------------------------------------------------------------------


async def banned_words(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(BannedWord.word).order_by(BannedWord.word)))


async def add_banned_word(session: AsyncSession, ctx: AppContext, word: str) -> list[str]:
    if await session.scalar(select(BannedWord.id).where(BannedWord.word == word)) is None:
        session.add(BannedWord(word=word))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
    await ctx.bus.publish(Event("chat.banned_words_changed", {}))
    return await banned_words(session)


async def remove_banned_word(session: AsyncSession, ctx: AppContext, word: str) -> list[str]:
    await session.execute(delete(BannedWord).where(BannedWord.word == word))
    await session.commit()
    await ctx.bus.publish(Event("chat.banned_words_changed", {}))
    return await banned_words(session)
