"""One room's embedded broadcast: the publisher's media in, one ffmpeg child out, and what goes wrong.

The first tags are held until both codecs are known, so ffmpeg starts with the right plan (copy or
transcode). If ffmpeg dies mid-stream it is restarted (appending to the same playlist, after a discontinuity)
from the cached stream headers and the next keyframe; after repeated failures, or when the disk is full, the
publisher is told why and let go, and the room falls back to reconnecting and then ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from knowcast.media import flv, rtmp
from knowcast.media.errors import MediaCode
from knowcast.media.ffmpeg import FfmpegProcess, StreamPlan, hls_args, plan_for
from knowcast.media.health import HealthIssue, HealthReport, HealthTracker
from knowcast.media.rtmp import Message
from knowcast.media.rtmp_gate import Link

if TYPE_CHECKING:
    from knowcast.media.supervisor import MediaPlane

log = logging.getLogger(__name__)
PROBE_TAGS = 60  # decide the plan after this many tags even if a track never showed up
MAX_RESTARTS = 3
RESTART_WINDOW = 60.0
PROBLEMS_KEPT = 10
DISK_FULL = ("No space left on device", "Disk quota exceeded")
PLAYABLE_VIDEO = frozenset({"h264", "hevc", "av1", "vp9", "h263", "vp6", "vp6a"})


class Relay(Protocol):
    """Something between the publisher and the program: an RTMP host's 连麦 stage (``program.RtmpStage``), which
    passes the publisher's messages on or replaces them with the composed program, by ``Broadcast.on_program``."""

    async def take(self, message: Message) -> None: ...

    async def close(self) -> None: ...


@dataclass
class Probe:
    """What the first tags said about the stream."""

    video: str | None = None
    audio: str | None = None
    expects_audio: bool | None = None
    expects_video: bool | None = None
    tags: list[bytes] = field(default_factory=list)

    def ready(self) -> bool:
        if self.video is None:
            return self.expects_video is False or len(self.tags) >= PROBE_TAGS * 3
        return self.audio is not None or self.expects_audio is False or len(self.tags) >= PROBE_TAGS


class Broadcast:
    def __init__(self, room_id: int, plane: MediaPlane) -> None:
        self.room_id = room_id
        self.plane = plane
        self.link: Link | None = None
        self.ffmpeg: FfmpegProcess | None = None
        self.plan: StreamPlan | None = None
        self.probe = Probe()
        self.headers: dict[str, bytes] = {}
        self.need_keyframe = False
        self.restarts: deque[float] = deque()
        self.problems: deque[HealthIssue] = deque(maxlen=PROBLEMS_KEPT)
        self.health = HealthTracker(plane.segment_seconds)
        self.tasks: set[asyncio.Task[None]] = set()
        self.grace: asyncio.Task[None] | None = None
        self.went_live = False
        # WebRTC viewing (media/whep.py) listens to the same messages ffmpeg gets; late listeners start from
        # the cached sequence headers (by message type) and the next keyframe
        self.taps: set[Callable[[Message], None]] = set()
        self.sequence_headers: dict[int, Message] = {}
        self.relay: Relay | None = None

    # ---- the publisher -----------------------------------------------------------------------------------

    def attach(self, link: Link) -> PublisherSession:
        self.link = link
        self.probe = Probe()
        self.plan = None
        self.went_live = False
        self.health = HealthTracker(self.plane.segment_seconds)
        self.relay = self.plane.relay_for(self, link)
        return PublisherSession(self, link)

    async def on_message(self, message: Message) -> None:
        self.health.on_input(len(message.payload))
        if self.relay is not None:
            await self.relay.take(message)
        else:
            await self.on_program(message)

    async def on_program(self, message: Message) -> None:
        """A message of the program: to the taps (WebRTC viewing) and ffmpeg, after the probe."""
        for tap in list(self.taps):
            tap(message)
        data = self._to_tag(message)
        if data is None:
            return
        if self.plan is None:
            self.probe.tags.append(data)
            if self.probe.ready():
                await self._start()
            return
        await self._feed(data, message)

    def _to_tag(self, message: Message) -> bytes | None:
        body = message.payload
        if message.type_id == rtmp.DATA_AMF0:
            body = flv.script_body(body)
            if b"onMetaData" not in body[:16]:
                return None
            data = flv.tag(flv.SCRIPT_TAG, 0, body)
            self.headers["meta"] = data
            self.probe.expects_audio = b"audiocodecid" in body
            self.probe.expects_video = b"videocodecid" in body
            return data
        data = flv.tag(message.type_id, message.timestamp, body)
        if message.type_id == rtmp.VIDEO:
            info = flv.video_info(body)
            self.probe.video = self.probe.video or info.codec
            if info.sequence_header:
                self.headers["video"] = data
                self.sequence_headers[rtmp.VIDEO] = message
            if info.keyframe and not info.sequence_header:
                self.health.on_keyframe(message.timestamp)
        elif message.type_id == rtmp.AUDIO:
            self.probe.audio = self.probe.audio or flv.audio_codec(body)
            if flv.is_audio_sequence_header(body):
                self.headers["audio"] = data
                self.sequence_headers[rtmp.AUDIO] = message
        return data

    async def _feed(self, data: bytes, message: Message) -> None:
        if self.need_keyframe and message.type_id == rtmp.VIDEO:
            info = flv.video_info(message.payload)
            if not info.keyframe or info.sequence_header:
                return
            self.need_keyframe = False
        await self._write_raw(data)

    async def detach(self, session: PublisherSession, reason: str) -> None:
        if self.link is not session.link:
            return  # a publisher we already let go of
        self.link = None
        log.info("publisher left", extra={"room_id": self.room_id, "reason": reason})
        await self._drop_relay()
        child, self.ffmpeg = self.ffmpeg, None
        if child is not None:
            await child.finish()
        await self.plane.publisher_gone(self)

    async def _drop_relay(self) -> None:
        relay, self.relay = self.relay, None
        if relay is not None:
            await relay.close()

    def kick(self, code: str, message: str) -> None:
        self.problem(code, message)
        if self.link is not None:
            self.link.kick(message)

    def problem(self, code: str, message: str) -> None:
        log.warning("media problem", extra={"room_id": self.room_id, "code": code, "detail": message})
        self.problems.append(HealthIssue(code=code, message=message))

    # ---- ffmpeg --------------------------------------------------------------------------------------------

    async def _start(self) -> None:
        video, audio = self.probe.video, self.probe.audio
        if video is None or video not in PLAYABLE_VIDEO:
            what = "no video track" if video is None else f"video codec {video}"
            self.kick(MediaCode.MEDIA_UNSUPPORTED_CODEC, f"cannot broadcast {what}: send H.264 video with AAC audio")
            self.plan = StreamPlan(video_copy=False, audio="none")  # swallow the rest until the link closes
            return
        self.plan = plan_for(video, audio, self.plane.rungs)
        if self.plan.transcoding and not self.plane.rungs:
            self.problem(
                MediaCode.MEDIA_TRANSCODING, f"{video}/{audio or 'no audio'} is transcoded; H.264/AAC costs less"
            )
        if not await self._spawn(append=self.plane.store.has_media(self.room_id)):
            return
        pending, self.probe.tags = self.probe.tags, []
        for data in pending:
            await self._write_raw(data)

    async def _spawn(self, append: bool) -> bool:
        assert self.plan is not None
        store = self.plane.store
        store.write_variants(self.room_id, self.plan.variants())
        args = hls_args(self.plane.ffmpeg, self.plan, store.room_dir(self.room_id), self.plane.segment_seconds, append)
        try:
            child = await FfmpegProcess.spawn(args, self.health.on_progress)
        except OSError as exc:
            self.kick(MediaCode.MEDIA_FFMPEG_MISSING, f"cannot start ffmpeg ({exc}); check KNOWCAST_FFMPEG")
            return False
        self.ffmpeg = child
        await self._write_raw(flv.HEADER)
        self._run(self._watch_exit(child))
        self._run(self._monitor(child))
        return True

    async def recut(self) -> None:
        """The program's codec parameters are about to change (an RTMP host's stage starts or stops composing):
        a new ffmpeg appends to the playlists after a discontinuity, as after a restart, so that players and the
        replay reset their decoders there. The caller writes the new sequence headers and a keyframe next."""
        child, self.ffmpeg = self.ffmpeg, None
        if child is not None:
            await child.finish()
        if self.link is not None and self.plan is not None:
            await self._spawn(append=True)
        self.need_keyframe = False

    async def _write_raw(self, data: bytes) -> None:
        """Write to ffmpeg; if it is gone, its exit watcher decides what happens next."""
        if self.ffmpeg is not None:
            with contextlib.suppress(ConnectionError, BrokenPipeError):
                await self.ffmpeg.write(data)

    async def _watch_exit(self, child: FfmpegProcess) -> None:
        code = await child.wait()
        if self.ffmpeg is not child or self.link is None:
            return  # a normal end: the publisher left and we closed ffmpeg's input
        self.ffmpeg = None
        error = child.error_text()
        log.warning("ffmpeg exited", extra={"room_id": self.room_id, "code": code, "stderr": error[-500:]})
        if any(marker in error for marker in DISK_FULL) or self.plane.disk_full(self.room_id):
            self.kick(MediaCode.MEDIA_DISK_FULL, "the server's media disk is full; the stream was stopped")
            return
        now = time.monotonic()
        while self.restarts and self.restarts[0] < now - RESTART_WINDOW:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            self.kick(
                MediaCode.MEDIA_FFMPEG_FAILED, "video processing keeps failing on the server; the stream was stopped"
            )
            return
        self.restarts.append(now)
        self.problem(MediaCode.MEDIA_FFMPEG_RESTARTED, "video processing restarted; viewers may see a short jump")
        self.health.restarted()
        if await self._spawn(append=True):
            for name in ("meta", "video", "audio"):
                if name in self.headers:
                    await self._write_raw(self.headers[name])
            self.need_keyframe = True

    async def _monitor(self, child: FfmpegProcess) -> None:
        """While this ffmpeg runs: the room goes live at the first segment of the session, and a full disk
        stops the stream (ffmpeg itself carries on writing empty segments, exit code 0, when the disk fills)."""
        store, start, ticks = self.plane.store, self.plane.store.segment_count(self.room_id), 0
        while self.ffmpeg is child and self.link is not None:
            if not self.went_live and store.segment_count(self.room_id) > start:
                self.went_live = True
                await self.plane.segment_ready(self)
            ticks += 1
            if ticks % 10 == 0 and self.plane.disk_full(self.room_id):
                self.kick(MediaCode.MEDIA_DISK_FULL, "the server's media disk is full; the stream was stopped")
                return
            await asyncio.sleep(0.1)

    # ---- housekeeping -------------------------------------------------------------------------------------

    def _run(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def start_grace(self, seconds: float, expire: Callable[[Broadcast], Awaitable[None]]) -> None:
        self.cancel_grace()

        async def wait() -> None:
            await asyncio.sleep(seconds)
            if self.link is None or not self.went_live:
                await expire(self)

        self.grace = asyncio.ensure_future(wait())

    def cancel_grace(self) -> None:
        if self.grace is not None and not self.grace.done():
            self.grace.cancel()
        self.grace = None

    async def close(self, message: str) -> None:
        """Stop everything for this room: the publisher, ffmpeg, timers."""
        self.cancel_grace()
        link, self.link = self.link, None
        if link is not None:
            link.kick(message)
        await self._drop_relay()
        child, self.ffmpeg = self.ffmpeg, None
        if child is not None:
            await child.finish()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def report(self) -> HealthReport:
        now = time.monotonic()
        publishing = self.link is not None
        tracker = self.health
        plan = self.plan
        return HealthReport(
            publishing=publishing,
            bitrate_kbps=tracker.bitrate_kbps(now) if publishing else None,
            fps=tracker.fps() if publishing else None,
            keyframe_interval_s=tracker.keyframe_interval_ms / 1000 if tracker.keyframe_interval_ms else None,
            dropped_frames=tracker.dropped_frames,
            speed=tracker.speed,
            video_codec=self.probe.video,
            audio_codec=self.probe.audio,
            transcoding=bool(plan and plan.transcoding),
            warnings=tracker.warnings(now, bool(plan and plan.transcoding)) if publishing else [],
            problems=list(self.problems),
        )


class PublisherSession:
    """The gate's sink for one publishing connection."""

    def __init__(self, broadcast: Broadcast, link: Link) -> None:
        self.broadcast = broadcast
        self.link = link

    async def write(self, message: Message) -> None:
        if self.broadcast.link is self.link:
            await self.broadcast.on_message(message)

    async def end(self, reason: str) -> None:
        await self.broadcast.detach(self, reason)
