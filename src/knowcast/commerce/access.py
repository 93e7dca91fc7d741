"""What commerce says about who may watch a room (called by knowcast.rooms.service.ensure_can_watch):
a ticket room admits holders of a ticket for it, a members room admits the host's active members."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.commerce import entitlements
from knowcast.rooms.models import Room
from knowcast.rooms.states import AccessMode


async def admits(session: AsyncSession, user: User, room: Room) -> bool:
    if room.access_mode is AccessMode.TICKET:
        return await entitlements.has_ticket(session, user.id, room.id)
    if room.access_mode is AccessMode.MEMBERS:
        return await entitlements.is_member(session, user.id, room.host_id)
    return True
