"""HTTP for Janus scaled mode: ``POST /janus/rooms/{room_id}/ticket`` gives a viewer what their browser needs to
watch the room's program in its Janus videoroom (the Janus URL, short-lived tokens, the videoroom and the feed).
Who may watch is decided as for the room's HLS and WHEP (a public room, a signed media token ``?t=``, or a viewer
let in); 404 ``media.not_publishing`` while the program is not in Janus, 503 ``media.janus_unreachable`` when
Janus does not answer: the player then plays HLS.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from knowcast.deps import Db, Id, Public
from knowcast.errors import NotFound
from knowcast.media.errors import MediaCode
from knowcast.media.routes import allowed_to_fetch
from knowcast.media.runtime import media_of
from knowcast.media.schemas import JanusTicket
from knowcast.media.webrtc import ice_servers

router = APIRouter(prefix="/janus", tags=["webrtc"])


@router.post("/rooms/{room_id}/ticket", dependencies=[Public])
async def ticket(request: Request, room_id: Id, db: Db) -> JanusTicket:
    media = media_of(request)
    if media.janus is None:
        raise NotFound("Janus scaled mode is off (KNOWCAST_JANUS_URL)", code=MediaCode.MEDIA_WEBRTC_OFF)
    await allowed_to_fetch(request, db, room_id)
    issued = await media.janus.ticket(room_id)
    return JanusTicket(
        url=issued.url,
        token=issued.token,
        room_token=issued.room_token,
        room=issued.room,
        feed=issued.feed,
        ice_servers=ice_servers(media.settings),
    )
