"""The replay page: the recording of an ended (or still running) stream, with its chat replayed in time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from knowcast.deps import Db, Id, MaybeUser, Public
from knowcast.rooms import service as rooms
from knowcast.web.templating import pages_of as pages

router = APIRouter()


@router.get("/rooms/{room_id}/replay", dependencies=[Public])
async def replay_page(request: Request, room_id: Id, db: Db, user: MaybeUser) -> Response:
    room = await rooms.get_room(db, room_id)
    await rooms.ensure_can_watch(db, user, room)
    return pages(request).render(request, "replay.html", room=room)
