"""HTTP for the stage (连麦).

Host (console, cookie + CSRF): make invitations, read the stage, switch the layout, mute or remove a guest, and
watch a guest over WebRTC. Guest (invite page, no cookie: the invite token is the credential, as the stream key
is for WHIP): ``POST /whip/stage`` with ``Authorization: Bearer <invite token>`` and an SDP offer answers 201
with the SDP answer (which also carries the host's camera and microphone back) and ``Location``; ``DELETE``
there leaves the stage.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from knowcast.deps import Db, Host, Id, Machine, MaybeUser
from knowcast.errors import NotFound
from knowcast.media import invites
from knowcast.media.errors import MediaCode
from knowcast.media.runtime import media_of
from knowcast.media.schemas import JanusStageTicket
from knowcast.media.stage import MAX_GUESTS, Stage
from knowcast.media.stage_schemas import InviteIn, InviteOut, LayoutIn, MuteIn, StageGuest, StageOut
from knowcast.media.webrtc import SDP, bearer, ice_servers, read_offer
from knowcast.media.whip import WhipIngest
from knowcast.rooms import service as rooms

api = APIRouter(prefix="/api/v1/media/rooms/{room_id}/stage", tags=["webrtc"])
rtc = APIRouter(tags=["webrtc"])


def _ingest(request: Request) -> WhipIngest:
    whip = media_of(request).whip
    if whip is None:
        raise NotFound("连麦 needs the embedded ingest (KNOWCAST_INGEST=embedded)", code=MediaCode.MEDIA_WEBRTC_OFF)
    return whip


async def _stage(request: Request, db: Db, host: Host, room_id: int) -> Stage:
    await rooms.get_managed_room(db, host, room_id)
    return _ingest(request).stage(room_id)


def _out(stage: Stage) -> StageOut:
    state = stage.state()
    guests = [StageGuest(**guest) for guest in state["guests"]]
    return StageOut(
        room_id=stage.room_id,
        layout=stage.layout,
        host_on_camera=stage.host_on_camera,
        max_guests=MAX_GUESTS,
        guests=guests,
    )


@api.post("/invites", status_code=201)
async def invite(request: Request, room_id: Id, data: InviteIn, db: Db, host: Host) -> InviteOut:
    _ingest(request)
    room = await rooms.get_managed_room(db, host, room_id)
    settings = media_of(request).settings
    made = await invites.create(
        db, host, room, user_id=data.user_id, name=data.name, ttl_seconds=settings.webrtc_guest_invite_ttl_seconds
    )
    row = made.invite
    return InviteOut(
        invite_id=row.id,
        room_id=room.id,
        name=row.name,
        user_id=row.user_id,
        token=made.token,
        url=f"{settings.public_url.rstrip('/')}/stage/join#{made.token}",
        expires_at=row.expires_at,
    )


@api.get("")
async def stage_state(request: Request, room_id: Id, db: Db, host: Host) -> StageOut:
    return _out(await _stage(request, db, host, room_id))


@api.put("/layout")
async def layout(request: Request, room_id: Id, data: LayoutIn, db: Db, host: Host) -> StageOut:
    stage = await _stage(request, db, host, room_id)
    await stage.set_layout(data.layout)
    return _out(stage)


@api.put("/guests/{guest_id}/mute")
async def mute(request: Request, room_id: Id, guest_id: str, data: MuteIn, db: Db, host: Host) -> StageOut:
    stage = await _stage(request, db, host, room_id)
    await stage.mute(guest_id, data.muted)
    return _out(stage)


@api.delete("/guests/{guest_id}", status_code=204)
async def remove(request: Request, room_id: Id, guest_id: str, db: Db, host: Host) -> Response:
    stage = await _stage(request, db, host, room_id)
    await stage.remove(guest_id)
    return Response(status_code=204)


@api.post("/guests/{guest_id}/view", status_code=201)
async def watch_guest(request: Request, room_id: Id, guest_id: str, db: Db, host: Host) -> Response:
    """The host watches and hears one guest directly (a recvonly SDP offer → the answer)."""
    stage = await _stage(request, db, host, room_id)
    offer = await read_offer(request)
    view = await stage.watch(guest_id, offer)
    headers = {"Location": f"/api/v1/media/rooms/{room_id}/stage/views/{view.id}"}
    return Response(view.pc.localDescription.sdp, status_code=201, media_type=SDP, headers=headers)


@api.delete("/views/{view_id}", status_code=204)
async def stop_watching(request: Request, room_id: Id, view_id: str, db: Db, host: Host) -> Response:
    stage = await _stage(request, db, host, room_id)
    if not await stage.unwatch(view_id):
        raise NotFound("no such view (it may have ended with its guest)", code=MediaCode.MEDIA_NO_SESSION)
    return Response(status_code=204)


async def _stage_ticket(request: Request, room_id: int) -> JanusStageTicket:
    media = media_of(request)
    if media.janus_stage is None:
        raise NotFound("Janus scaled mode is off (KNOWCAST_JANUS_URL)", code=MediaCode.MEDIA_WEBRTC_OFF)
    issued = await media.janus_stage.ticket(room_id)
    return JanusStageTicket(
        url=issued.url,
        token=issued.token,
        room_token=issued.room_token,
        room=issued.room,
        feeds=issued.feeds,
        ice_servers=ice_servers(media.settings),
    )


@api.post("/ticket")
async def host_ticket(request: Request, room_id: Id, db: Db, host: Host) -> JanusStageTicket:
    """Scaled mode: the host console's way into the stage videoroom, to watch the guests through Janus."""
    await _stage(request, db, host, room_id)
    return await _stage_ticket(request, room_id)


@rtc.post("/whip/stage/{guest_id}/ticket", dependencies=[Machine])
async def guest_ticket(request: Request, guest_id: str) -> JanusStageTicket:
    """Scaled mode: a guest's way into the stage videoroom (the guest session's id, from ``Location``, is the
    credential, as for leaving), to watch the host and the other guests through Janus."""
    guest = _ingest(request).find_guest(guest_id)
    if guest is None:
        raise NotFound("no such guest session (it may have ended already)", code=MediaCode.MEDIA_NO_SESSION)
    return await _stage_ticket(request, guest.stage.room_id)


@rtc.post("/whip/stage", dependencies=[Machine], status_code=201)
async def join(request: Request, user: MaybeUser) -> Response:
    """The invite token is the credential (no CSRF: a cross-site page cannot send the Authorization header); an
    invitation for one of the room's guests also needs their session cookie."""
    whip = _ingest(request)
    token = bearer(request, "the invitation's token", MediaCode.MEDIA_INVITE_REQUIRED)
    offer = await read_offer(request)
    guest = await whip.join_stage(token, offer, user.id if user is not None else None)
    headers = {"Location": f"/whip/stage/{guest.id}"}
    return Response(guest.pc.localDescription.sdp, status_code=201, media_type=SDP, headers=headers)


@rtc.delete("/whip/stage/{guest_id}", dependencies=[Machine])
async def leave(request: Request, guest_id: str) -> Response:
    guest = _ingest(request).find_guest(guest_id)
    if guest is None:
        raise NotFound("no such guest session (it may have ended already)", code=MediaCode.MEDIA_NO_SESSION)
    await guest.close("the guest left")
    return Response(status_code=200)
