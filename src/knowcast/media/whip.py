"""WHIP ingest (RFC 9725): a browser or OBS 30+ publishes over WebRTC; aiortc receives it in this process.

``offer()`` checks the stream key exactly as the RTMP gate does (``MediaPlane.admit``), answers the SDP offer
with all our ICE candidates in it (no trickle), and then pumps the decoded frames through ``FlvEncoder`` into
the room's ``Broadcast``: from there on a WHIP publisher is indistinguishable from an RTMP one (HLS, recording,
health, reconnect grace). Each session ends when the publisher DELETEs its resource, when ICE fails, when no
picture arrives for ``peer.IDLE_TIMEOUT`` seconds, or when the plane kicks it (key rotated, room ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from aiortc import RTCSessionDescription
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from knowcast.bus import Event
from knowcast.errors import AuthenticationRequired, Conflict, KnowcastError, ServiceUnavailable, ValidationFailed
from knowcast.media import invites
from knowcast.media.broadcast import Broadcast, PublisherSession
from knowcast.media.errors import MediaCode
from knowcast.media.peer import PeerSession
from knowcast.media.program import ProgramEncoder, RtmpStage
from knowcast.media.rtmp import Message
from knowcast.media.rtmp_gate import Link, PublishRefused
from knowcast.media.stage import GuestSession, Stage, close_all
from knowcast.media.supervisor import MediaPlane
from knowcast.media.webrtc import CLOSE_PATIENCE, close_peer, rtc_configuration
from knowcast.settings import Settings

log = logging.getLogger(__name__)
QUEUE_FRAMES = 60  # about a second of frames waiting for the encoder; past that, pictures are dropped
REFUSALS: dict[str, type[KnowcastError]] = {
    MediaCode.MEDIA_WRONG_KEY: AuthenticationRequired,
    MediaCode.MEDIA_ROOM_ENDED: Conflict,
    MediaCode.MEDIA_ALREADY_PUBLISHING: Conflict,
    MediaCode.MEDIA_DISK_FULL: ServiceUnavailable,
}

Frame = VideoFrame | AudioFrame


class WhipSession(PeerSession):
    """One WebRTC publisher: its peer connection, its frame queue and encoder, its place in the Broadcast."""

    def __init__(self, ingest: WhipIngest, peer: str) -> None:
        super().__init__(rtc_configuration(ingest.settings))
        self.id = secrets.token_urlsafe(24)
        self.ingest = ingest
        self.peer = peer
        self.sink: PublisherSession | None = None
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue(QUEUE_FRAMES)
        self.encoder: ProgramEncoder | None = None
        self.stage: Stage | None = None

    @property
    def room_id(self) -> int:
        assert self.sink is not None
        return self.sink.broadcast.room_id

    # ---- setup ---------------------------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> str:
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except ValueError as exc:
            raise ValidationFailed(f"the SDP offer is not valid: {exc}", code=MediaCode.MEDIA_BAD_OFFER) from exc
        if not any(track.kind == "video" for track in self.tracks):
            raise ValidationFailed("the offer has no video track to receive", code=MediaCode.MEDIA_NO_VIDEO_OFFER)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        has_audio = any(track.kind == "audio" for track in self.tracks)
        self.stage = self.ingest.stage(self.room_id)
        self.stage.host_on_camera = True
        seconds = self.ingest.settings.media_segment_seconds
        self.encoder = ProgramEncoder(self.stage, has_audio=has_audio, keyframe_seconds=seconds)
        self.receive()
        self._run(self._encode())
        return str(self.pc.localDescription.sdp)

    # ---- media ---------------------------------------------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        if self.stage is not None:  # the guests see and hear the host directly
            self.stage.host_feed("video" if isinstance(frame, VideoFrame) else "audio").put(frame)
        if not self.queue.full():
            self.queue.put_nowait(frame)
        elif self.sink is not None:
            self.sink.broadcast.health.dropped_before_ffmpeg()

    async def _encode(self) -> None:
        """The only user of the encoder: each frame is encoded in a thread so the event loop stays free."""
        encoder = self.encoder
        assert encoder is not None
        while (frame := await self.queue.get()) is not None:  # composed and mixed with the stage's guests
            await self._write(await asyncio.to_thread(encoder.encode, frame))

    async def _write(self, messages: list[Message]) -> None:
        if self.sink is not None:
            for message in messages:
                await self.sink.write(message)

    # ---- teardown ------------------------------------------------------------------------------------------

    async def close(self, reason: str) -> None:
        self.ingest.sessions.pop(self.id, None)
        await self._stop_tasks()
        await close_peer(self.pc)
        if self.encoder is not None:
            encoder, self.encoder = self.encoder, None
            out: list[Message] = []
            with contextlib.suppress(Exception):
                out = await asyncio.to_thread(encoder.close)
            with contextlib.suppress(TimeoutError):  # an ffmpeg that stopped reading: the sink's end kills it
                await asyncio.wait_for(self._write(out), CLOSE_PATIENCE)
        if self.stage is not None:
            self.stage.host_on_camera = False
        if self.sink is not None:
            await self.sink.end(reason)
        log.info("whip session closed", extra={"session": self.id[:8], "reason": reason})


class WhipIngest:
    """The WHIP sessions of this process (a Component: ``stop()`` closes them)."""

    def __init__(self, plane: MediaPlane, settings: Settings) -> None:
        self.plane = plane
        self.settings = settings
        self.sessions: dict[str, WhipSession] = {}
        self.stages: dict[int, Stage] = {}

    async def start(self) -> None:
        self.plane.ctx.bus.subscribe("room.ended", self._on_room_ended)
        self.plane.relays = self._relay

    def _relay(self, broadcast: Broadcast, link: Link) -> RtmpStage | None:
        """An RTMP publisher's messages pass the room's stage, which composes them with guests who come on (a
        WHIP host composes in its own session)."""
        if isinstance(link, WhipSession):
            return None
        stage = self.stage(broadcast.room_id)
        return RtmpStage(broadcast, stage, keyframe_seconds=self.settings.media_segment_seconds)

    async def _on_room_ended(self, event: Event) -> None:
        stage = self.stages.pop(int(event.data["room_id"]), None)
        if stage is not None:
            await stage.close("the room has ended")

    async def stop(self) -> None:
        await close_all(self.stages, "the server is stopping")
        await asyncio.gather(*(s.close("the server is stopping") for s in list(self.sessions.values())))

    def stage(self, room_id: int) -> Stage:
        """The room's stage (made on first use: guests may join before the host turns the camera on)."""
        if room_id not in self.stages:

            async def publish(name: str, data: dict[str, Any]) -> None:
                await self.plane.ctx.bus.publish(Event(name, {"room_id": room_id, **data}, to_room=True))

            self.stages[room_id] = Stage(room_id, self.settings, publish)
        return self.stages[room_id]

    async def offer(self, room_id: int, stream_key: str, offer_sdp: str, peer: str) -> WhipSession:
        """A new publishing session for ``room_id``, or a coded refusal; ``session.pc.localDescription`` answers."""
        if len(self.sessions) >= self.settings.webrtc_max_publishers:
            raise ServiceUnavailable(
                "this server takes no more WebRTC publishers now", code=MediaCode.MEDIA_WEBRTC_BUSY
            )
        session = WhipSession(self, peer)
        try:
            session.sink = await self.plane.admit(stream_key, peer, session, room_id)
        except PublishRefused as refused:
            await close_peer(session.pc)
            error = REFUSALS.get(refused.code, Conflict)
            headers = {"WWW-Authenticate": "Bearer"} if error is AuthenticationRequired else None
            raise error(refused.message, code=refused.code, headers=headers) from refused
        self.sessions[session.id] = session
        try:
            await session.answer(offer_sdp)
        except BaseException:
            await session.close("the offer could not be answered")
            raise
        log.info("whip session started", extra={"room_id": room_id, "session": session.id[:8], "peer": peer})
        return session

    async def join_stage(self, token: str, offer_sdp: str, user_id: int | None) -> GuestSession:
        """A guest presenting a 连麦 invite joins its room's stage; the invite is spent once the guest is on. An
        invite made for one of the room's guests also needs that guest signed in (``user_id``)."""
        async with self.plane.ctx.db.session() as session:
            invite = await invites.check(session, token)
        invites.ensure_invitee(invite, user_id)
        stage = self.stage(invite.room_id)
        guest = await stage.join(offer_sdp, invite_id=invite.id, name=invite.name, user_id=invite.user_id)
        async with self.plane.ctx.db.session() as session:
            spent = await invites.spend(session, invite.id)
        if not spent:  # two browsers raced with one link: the second to get here goes
            await guest.close("the invitation was used by someone else")
            raise AuthenticationRequired("this invitation has been used already", code=MediaCode.MEDIA_INVITE_USED)
        await stage.announce(guest)
        return guest

    def find_guest(self, guest_id: str) -> GuestSession | None:
        for stage in self.stages.values():
            if guest_id in stage.guests:
                return stage.guests[guest_id]
        return None

    async def end(self, session_id: str) -> bool:
        session = self.sessions.get(session_id)
        if session is None:
            return False
        await session.close("the publisher ended the session")
        return True
