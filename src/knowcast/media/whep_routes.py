"""HTTP for WHEP viewing: ``POST /whep/rooms/{room_id}`` with a recvonly SDP offer answers 201 with the SDP
answer and the session's ``Location``; ``DELETE`` there ends it. Who may watch is decided as for the room's HLS
(a public room, a signed media token ``?t=``, or a viewer let in); the POST is a browser call, so CSRF-checked.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from knowcast.deps import Db, Id, Public
from knowcast.errors import NotFound
from knowcast.media.errors import MediaCode
from knowcast.media.routes import allowed_to_fetch
from knowcast.media.runtime import media_of
from knowcast.media.webrtc import SDP, read_offer
from knowcast.media.whep import WhepViewing

router = APIRouter(prefix="/whep", tags=["webrtc"])


def _viewing(request: Request) -> WhepViewing:
    whep = media_of(request).whep
    if whep is None:
        raise NotFound(
            "WebRTC viewing is off: it needs the embedded ingest (KNOWCAST_INGEST)", code=MediaCode.MEDIA_WEBRTC_OFF
        )
    return whep


@router.post("/rooms/{room_id}", dependencies=[Public], status_code=201)
async def watch(request: Request, room_id: Id, db: Db) -> Response:
    whep = _viewing(request)
    await allowed_to_fetch(request, db, room_id)
    offer = await read_offer(request)
    session = await whep.offer(room_id, offer)
    headers = {"Location": f"/whep/sessions/{session.id}"}
    return Response(session.pc.localDescription.sdp, status_code=201, media_type=SDP, headers=headers)


@router.delete("/sessions/{session_id}", dependencies=[Public])
async def stop(request: Request, session_id: str) -> Response:
    if not await _viewing(request).end(session_id):
        raise NotFound("no such WHEP session (it may have ended already)", code=MediaCode.MEDIA_NO_SESSION)
    return Response(status_code=200)
