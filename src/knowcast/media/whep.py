"""WHEP viewing: a viewer watches the room's program over WebRTC, well under a second behind, from aiortc.

One ``ProgramFeed`` per room, made when its first WebRTC viewer arrives: it listens to the Broadcast's messages
(the same FLV tags ffmpeg gets, from RTMP or WHIP alike), decodes H.264 and AAC with PyAV in a worker thread,
and offers a video and an audio track; aiortc's ``MediaRelay`` hands each viewer its own proxy of them, and
aiortc encodes per viewer (VP8 or H.264, Opus). That per-viewer encode is what limits how many WebRTC viewers
one process holds, hence ``KNOWCAST_WEBRTC_MAX_VIEWERS``; past it viewers are refused with 503
``media.webrtc_full`` and watch HLS instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from knowcast.errors import NotFound, ServiceUnavailable, ValidationFailed
from knowcast.media import rtmp
from knowcast.media.broadcast import Broadcast
from knowcast.media.errors import MediaCode
from knowcast.media.flv_decode import TagDecoder, decoded
from knowcast.media.rtmp import Message
from knowcast.media.supervisor import MediaPlane
from knowcast.media.webrtc import close_peer, rtc_configuration
from knowcast.settings import Settings

log = logging.getLogger(__name__)
QUEUE = 30  # decoded frames a track keeps; a viewer that cannot take them gets the newest

Frame = VideoFrame | AudioFrame


class FeedTrack(MediaStreamTrack):
    """One of the feed's two tracks: frames in by ``push``, out by ``recv`` (oldest dropped when full)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue(QUEUE)

    def push(self, frame: Frame | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(frame)

    async def recv(self) -> Frame:
        frame = await self.queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame


class ProgramFeed:
    """A room's program as two WebRTC tracks, for as long as it has WebRTC viewers."""

    def __init__(self, broadcast: Broadcast) -> None:
        self.broadcast = broadcast
        self.video, self.audio = FeedTrack("video"), FeedTrack("audio")
        self.relay = MediaRelay()
        self.decoder = TagDecoder()
        self.inbox: asyncio.Queue[Message | None] = asyncio.Queue(300)
        self.worker: asyncio.Task[None] = asyncio.ensure_future(self._work())
        for kind in (rtmp.VIDEO, rtmp.AUDIO):
            header = broadcast.sequence_headers.get(kind)
            if header is not None:
                self.inbox.put_nowait(header)
        broadcast.taps.add(self._tap)

    def _tap(self, message: Message) -> None:
        if not self.inbox.full():
            self.inbox.put_nowait(message)

    async def _work(self) -> None:
        async for frames in decoded(self.decoder, self.inbox, "webrtc feed"):
            for frame in frames:
                (self.video if isinstance(frame, VideoFrame) else self.audio).push(frame)

    def tracks(self) -> list[MediaStreamTrack]:
        return [self.relay.subscribe(self.video, buffered=False), self.relay.subscribe(self.audio, buffered=False)]

    async def close(self) -> None:
        self.broadcast.taps.discard(self._tap)
        if self.inbox.full():
            self.worker.cancel()
        else:
            self.inbox.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self.worker
        self.video.push(None)
        self.audio.push(None)


class WhepSession:
    def __init__(self, viewing: WhepViewing, room_id: int) -> None:
        self.id = secrets.token_urlsafe(24)
        self.room_id = room_id
        self.viewing = viewing
        self.pc = RTCPeerConnection(rtc_configuration(viewing.settings))
        self.closing: asyncio.Task[bool] | None = None

    async def answer(self, offer_sdp: str, feed: ProgramFeed) -> str:
        for track in feed.tracks():
            self.pc.addTrack(track)
        self.pc.on("connectionstatechange", self._on_state)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except ValueError as exc:
            raise ValidationFailed(f"the SDP offer is not valid: {exc}", code=MediaCode.MEDIA_BAD_OFFER) from exc
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed") and self.closing is None:
            self.closing = asyncio.ensure_future(self.viewing.end(self.id))


class WhepViewing:
    """This process's WebRTC viewers and the room feeds they share (a Component: ``stop()`` ends them)."""

    def __init__(self, plane: MediaPlane, settings: Settings) -> None:
        self.plane = plane
        self.settings = settings
        self.sessions: dict[str, WhepSession] = {}
        self.feeds: dict[int, ProgramFeed] = {}

    async def start(self) -> None:
        return None

    @property
    def has_room(self) -> bool:
        """Whether another WebRTC viewer may start now (the pages offer WHEP only then)."""
        return len(self.sessions) < self.settings.webrtc_max_viewers

    async def stop(self) -> None:
        for session_id in list(self.sessions):
            await self.end(session_id)

    async def offer(self, room_id: int, offer_sdp: str) -> WhepSession:
        """A viewing session on the room's program; 404 when nothing is publishing, 503 over the budget."""
        broadcast = self.plane.broadcasts.get(room_id)
        if broadcast is None or broadcast.link is None:
            raise NotFound("nothing is being broadcast in this room now", code=MediaCode.MEDIA_NOT_PUBLISHING)
        if not self.has_room:
            raise ServiceUnavailable(
                "no more WebRTC viewers here now; watch the HLS stream", code=MediaCode.MEDIA_WEBRTC_FULL
            )
        feed = self.feeds.get(room_id)
        if feed is None or feed.broadcast is not broadcast:
            feed = self.feeds[room_id] = ProgramFeed(broadcast)
        session = WhepSession(self, room_id)
        self.sessions[session.id] = session
        try:
            await session.answer(offer_sdp, feed)
        except BaseException:
            await self.end(session.id)
            raise
        return session

    async def end(self, session_id: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        await close_peer(session.pc)
        if not any(s.room_id == session.room_id for s in self.sessions.values()):
            feed = self.feeds.pop(session.room_id, None)
            if feed is not None:
                await feed.close()
        return True

    def viewers(self) -> int:
        return len(self.sessions)
