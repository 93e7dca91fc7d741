"""HTTP for WHIP (RFC 9725): ``POST /whip/rooms/{room_id}`` with the stream key as bearer token and an SDP
offer answers 201 with the SDP answer and the session's ``Location``; ``DELETE`` on that location ends it.

Called by encoders (OBS 30+) and by the console's "go live with camera": no cookie is involved, the stream key
is the credential, so there is no CSRF check (``Machine``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from knowcast.deps import Id, Machine
from knowcast.errors import NotFound
from knowcast.media.errors import MediaCode
from knowcast.media.runtime import media_of
from knowcast.media.webrtc import SDP, bearer, read_offer
from knowcast.media.whip import WhipIngest

router = APIRouter(prefix="/whip", tags=["webrtc"])


def _ingest(request: Request) -> WhipIngest:
    whip = media_of(request).whip
    if whip is None:
        raise NotFound(
            "WebRTC ingest is off: it needs the embedded ingest (KNOWCAST_INGEST)", code=MediaCode.MEDIA_WEBRTC_OFF
        )
    return whip


@router.post("/rooms/{room_id}", dependencies=[Machine], status_code=201)
async def publish(request: Request, room_id: Id) -> Response:
    whip = _ingest(request)
    key = bearer(request, "the room's stream key", MediaCode.MEDIA_KEY_REQUIRED)
    offer = await read_offer(request)
    peer = request.client.host if request.client else "unknown"
    session = await whip.offer(room_id, key, offer, peer)
    headers = {"Location": f"/whip/sessions/{session.id}"}
    return Response(session.pc.localDescription.sdp, status_code=201, media_type=SDP, headers=headers)


@router.delete("/sessions/{session_id}", dependencies=[Machine])
async def stop(request: Request, session_id: str) -> Response:
    if not await _ingest(request).end(session_id):
        raise NotFound("no such WHIP session (it may have ended already)", code=MediaCode.MEDIA_NO_SESSION)
    return Response(status_code=200)
