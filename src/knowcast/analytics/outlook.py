"""The next stream as the forecast sees it: the host's next scheduled room (or the one asked about), when it
is, and the reminders (预约) booked for it, which feed the viewer forecast (knowcast.analytics.forecast)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import facts_read, forecast
from knowcast.analytics import models as m
from knowcast.db.types import utcnow
from knowcast.errors import NotFound
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room
from knowcast.rooms.states import RoomState

CANDIDATES = 20


async def next_room(session: AsyncSession, host_id: int) -> Room | None:
    """The host's soonest room that has not gone live yet (among the newest it scheduled)."""
    found = []
    for room_id, _reminders in (await facts_read.upcoming(session, host_id))[:CANDIDATES]:
        try:
            room = await rooms.get_room(session, room_id)
        except NotFound:
            continue
        if room.state is RoomState.SCHEDULED:
            found.append(room)
    return min(found, key=lambda r: r.scheduled_at, default=None)


async def ahead(session: AsyncSession, host_id: int, room: Room | None = None) -> dict[str, Any]:
    """The next stream's GMV and viewers; for a scheduled room, at its time and with its reminders."""
    streams = await facts_read.streams_of(session, host_id, imported=True)
    room = room or await next_room(session, host_id)
    if room is None or room.state is not RoomState.SCHEDULED:
        return forecast.next_stream(streams, forecast.next_weekly(streams, utcnow()))
    known = await session.get(m.AnalyticsRoom, room.id)
    booked = known.reminders if known is not None else 0
    return {**forecast.next_stream(streams, room.scheduled_at, booked, room.id), "title": room.title}
