"""The only code that changes rooms."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import Role, User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import AuthenticationRequired, Conflict, NotFound, PermissionDenied
from knowcast.rooms import covers
from knowcast.rooms.errors import RoomsCode
from knowcast.rooms.models import Room
from knowcast.rooms.schemas import RoomCreate, RoomUpdate
from knowcast.rooms.states import ON_AIR, AccessMode, RoomState, can_transition

PAST_LIMIT = 50


@dataclass(frozen=True)
class Channel:
    live: list[Room]
    upcoming: list[Room]
    past: list[Room]


def new_stream_key() -> str:
    return "kc_" + secrets.token_urlsafe(24)


async def get_room(session: AsyncSession, room_id: int) -> Room:
    room = await session.get(Room, room_id)
    if room is None:
        raise NotFound("no such room", code=RoomsCode.ROOM_NOT_FOUND)
    return room


def ensure_can_manage(user: User, room: Room) -> None:
    """Hosts manage their own rooms; the owner manages every room."""
    if user.role is Role.OWNER or (user.role is Role.HOST and room.host_id == user.id):
        return
    raise PermissionDenied("only this room's host can do that", code=RoomsCode.ROOM_NOT_HOST)


async def get_managed_room(session: AsyncSession, user: User, room_id: int) -> Room:
    room = await get_room(session, room_id)
    ensure_can_manage(user, room)
    return room


async def create_room(session: AsyncSession, ctx: AppContext, host: User, data: RoomCreate) -> Room:
    room = Room(
        host_id=host.id,
        title=data.title,
        description=data.description,
        scheduled_at=data.scheduled_at,
        access_mode=data.access_mode,
        stream_key=new_stream_key(),
    )
    session.add(room)
    await session.commit()
    await ctx.bus.publish(Event("room.created", {"room_id": room.id, "host_id": host.id}))
    return room


async def update_room(session: AsyncSession, ctx: AppContext, room: Room, data: RoomUpdate) -> Room:
    if room.state is RoomState.ENDED:
        raise Conflict("an ended room cannot be edited", code=RoomsCode.ROOM_ENDED)
    for field in ("title", "description", "scheduled_at", "access_mode"):
        value = getattr(data, field)
        if value is not None:
            setattr(room, field, value)
    await session.commit()
    await ctx.bus.publish(Event("room.updated", {"room_id": room.id}))
    return room


async def set_cover(session: AsyncSession, ctx: AppContext, room: Room, data: bytes) -> Room:
    upload_dir = ctx.settings.data_dir / "uploads" / "covers"
    old = room.cover_path
    room.cover_path = covers.save_cover(upload_dir, data, ctx.settings.max_upload_bytes)
    await session.commit()
    if old:
        (upload_dir / old).unlink(missing_ok=True)
    return room


async def transition(session: AsyncSession, ctx: AppContext, room: Room, target: RoomState) -> Room:
    """Move the room along its state machine; refuses illegal moves with ``room.illegal_transition``."""
    if not can_transition(room.state, target):
        raise Conflict(
            f"a {room.state.value} room cannot become {target.value}",
            code=RoomsCode.ROOM_ILLEGAL_TRANSITION,
            fields={"state": room.state.value, "to": target.value},
        )
    now = utcnow()
    room.state = target
    if target is RoomState.LIVE and room.started_at is None:  # back from reconnecting keeps the first start
        room.started_at = now
    elif target is RoomState.ENDED:
        room.ended_at = now
    await session.commit()
    data = {"room_id": room.id, "host_id": room.host_id, "state": target.value}
    await ctx.bus.publish(Event(f"room.{target.value}", data, to_room=True))
    return room


async def rotate_stream_key(session: AsyncSession, ctx: AppContext, room: Room) -> Room:
    room.stream_key = new_stream_key()
    await session.commit()
    await ctx.bus.publish(Event("room.stream_key_rotated", {"room_id": room.id}))
    return room


async def find_by_stream_key(session: AsyncSession, stream_key: str) -> Room | None:
    room: Room | None = await session.scalar(select(Room).where(Room.stream_key == stream_key))
    return room


async def channel(session: AsyncSession) -> Channel:
    """The channel home: live now, upcoming soonest first, past newest first."""
    live = await session.scalars(select(Room).where(Room.state.in_(ON_AIR)).order_by(Room.started_at.desc()))
    upcoming = await session.scalars(select(Room).where(Room.state == RoomState.SCHEDULED).order_by(Room.scheduled_at))
    past = await session.scalars(
        select(Room).where(Room.state == RoomState.ENDED).order_by(Room.ended_at.desc()).limit(PAST_LIMIT)
    )
    return Channel(live=list(live), upcoming=list(upcoming), past=list(past))


async def rooms_of_host(session: AsyncSession, host: User) -> list[Room]:
    query = select(Room).order_by(Room.scheduled_at.desc())
    if host.role is not Role.OWNER:
        query = query.where(Room.host_id == host.id)
    return list(await session.scalars(query))


async def ensure_can_watch(session: AsyncSession, user: User | None, room: Room) -> None:
    """Raise PermissionDenied unless ``user`` may watch ``room`` (page, chat socket and media alike).

    Public rooms are open to everyone. Ticket and members rooms are open to their host and the owner; for
    everyone else the commerce plane decides (a ticket or a membership), and until it has sold one nobody else
    gets in.
    """
    if room.access_mode is AccessMode.PUBLIC:
        return
    if user is not None and (user.role is Role.OWNER or user.id == room.host_id):
        return
    if user is not None:
        from knowcast.commerce import access  # commerce builds on rooms, so it is imported late

        if await access.admits(session, user, room):
            return
    code = RoomsCode.ROOM_TICKET_REQUIRED if room.access_mode is AccessMode.TICKET else RoomsCode.ROOM_MEMBERS_ONLY
    if user is None:
        raise AuthenticationRequired("sign in to watch this room", code=code)
    raise PermissionDenied("this room needs a ticket or a membership", code=code)


async def can_watch(session: AsyncSession, user: User | None, room: Room) -> bool:
    try:
        await ensure_can_watch(session, user, room)
    except (AuthenticationRequired, PermissionDenied):
        return False
    return True


async def watchable_room(session: AsyncSession, user: User | None, room_id: int) -> Room:
    """The room, for a read of its content (questions, polls, draws, sales, guests): refused exactly as its
    live socket would refuse ``user``, so a ticket or members room shows nothing to those it keeps out."""
    room = await get_room(session, room_id)
    await ensure_can_watch(session, user, room)
    return room


async def export_personal_data(session: AsyncSession, user: User) -> dict[str, list[dict[str, object]]]:
    """Rooms the person hosted. They stay after an account is deleted: they are the shop's, not the person's."""
    hosted = await session.scalars(select(Room).where(Room.host_id == user.id).order_by(Room.id))
    return {
        "rooms_hosted": [
            {
                "id": r.id,
                "title": r.title,
                "description": r.description,
                "scheduled_at": r.scheduled_at.isoformat(),
                "state": r.state.value,
            }
            for r in hosted
        ]
    }
