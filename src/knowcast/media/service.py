"""The video plane's changes to rooms: who may publish, and moving a room live, reconnecting or ended.

Room state itself changes only through knowcast.rooms.service.transition (which commits, then publishes
``room.live`` / ``room.reconnecting`` / ``room.ended`` with ``broadcast: True``). Moves made here are
conditional: a move that no longer applies (the host ended the room a moment ago) is a no-op, not an error.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.context import AppContext
from knowcast.errors import Conflict, NotFound
from knowcast.media.errors import MediaCode
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room
from knowcast.rooms.states import RoomState

log = logging.getLogger(__name__)
ROOM_STREAM_NAME = re.compile(r"^room-(\d{1,12})$")


async def publishable_room(session: AsyncSession, stream_key: str) -> Room:
    """The room this key publishes to, or a coded refusal (wrong or rotated key, ended room)."""
    room = await rooms.find_by_stream_key(session, stream_key) if stream_key else None
    if room is None:
        raise NotFound("this stream key is not valid (it may have been rotated)", code=MediaCode.MEDIA_WRONG_KEY)
    if room.state is RoomState.ENDED:
        raise Conflict("this room has ended; create a new room to go live again", code=MediaCode.MEDIA_ROOM_ENDED)
    return room


async def external_room(session: AsyncSession, stream_name: str, key: str | None) -> Room:
    """Rooms on an external server publish as ``<stream key>``, or as ``room-<id>?key=<stream key>``."""
    match = ROOM_STREAM_NAME.match(stream_name)
    if match is None:
        return await publishable_room(session, stream_name)
    room = await publishable_room(session, key or "")
    if room.id != int(match.group(1)):
        raise NotFound("this stream key is not valid for that room", code=MediaCode.MEDIA_WRONG_KEY)
    return room


async def find_on_air(session: AsyncSession, stream_name: str) -> Room | None:
    """The room an external server's stream name refers to (for publish-done), whatever its key now is."""
    match = ROOM_STREAM_NAME.match(stream_name)
    if match is not None:
        return await session.get(Room, int(match.group(1)))
    return await rooms.find_by_stream_key(session, stream_name)


async def move_room(ctx: AppContext, room_id: int, target: RoomState, *, only_from: frozenset[RoomState]) -> bool:
    """Move the room to ``target`` if it is in one of ``only_from``; True when it moved."""
    async with ctx.db.session() as session:
        room = await session.get(Room, room_id)
        if room is None or room.state not in only_from:
            return False
        try:
            await rooms.transition(session, ctx, room, target)
        except Conflict:
            return False
    log.info("room moved by the video plane", extra={"room_id": room_id, "state": target.value})
    return True


async def room_state(ctx: AppContext, room_id: int) -> RoomState | None:
    async with ctx.db.session() as session:
        room = await session.get(Room, room_id)
        return room.state if room else None


async def rooms_on_air(ctx: AppContext) -> list[tuple[int, RoomState]]:
    from sqlalchemy import select

    from knowcast.rooms.states import ON_AIR

    async with ctx.db.session() as session:
        rows = await session.execute(select(Room.id, Room.state).where(Room.state.in_(ON_AIR)))
        return [(room_id, state) for room_id, state in rows]
