"""The program while guests are on the 连麦 stage: the host's pictures composed with the guests', the sound mixed,
and encoded again (``ProgramEncoder``), for a WHIP host (``whip.py``) and for an RTMP host (``RtmpStage``).

An RTMP host's program is passthrough while no guest is on with a picture: OBS's own H.264/AAC go to ffmpeg
untouched, at no cost. While guests are on, ``RtmpStage`` decodes the host's messages (``TagDecoder``), gives the
guests the host's picture and sound (``Stage.host_feed``) and, once the host's pictures decode, replaces the
program with the composed one. The two programs have different codec parameters (OBS's encoder, then ours), so
each switch starts a new ffmpeg that appends to the room's playlists after a discontinuity
(``Broadcast.recut``), as after an ffmpeg restart: HLS players and the replay reset their decoders there instead
of decoding one stream with the other's parameters. WebRTC viewers get the new sequence headers in the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from knowcast.media import flv, rtmp
from knowcast.media.flv_decode import TagDecoder, decoded
from knowcast.media.flv_mux import FlvEncoder
from knowcast.media.rtmp import Message

if TYPE_CHECKING:
    from knowcast.media.broadcast import Broadcast
    from knowcast.media.stage import Stage

log = logging.getLogger(__name__)
INBOX = 300  # messages waiting to be decoded; past that the publisher's connection waits (TCP backpressure)

Frame = VideoFrame | AudioFrame


class ProgramEncoder:
    """Frames in, the program's FLV messages out, composed and mixed with the stage's guests first (a host's
    frames pass through untouched while nobody is on). Not thread-safe: one worker thread calls it at a time."""

    def __init__(self, stage: Stage | None, *, has_audio: bool, keyframe_seconds: float) -> None:
        self.stage = stage
        self.out: list[Message] = []
        self.encoder = FlvEncoder(self.out.append, has_audio=has_audio, keyframe_seconds=keyframe_seconds)

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, VideoFrame):
            self.encoder.add_video(self.stage.compose(frame) if self.stage is not None else frame)
        else:
            self.encoder.add_audio(self.stage.mix(frame) if self.stage is not None else frame)
        return self._taken()

    def close(self) -> list[Message]:
        self.encoder.close()
        return self._taken()

    def _taken(self) -> list[Message]:
        out = self.out[:]
        self.out.clear()
        return out


def _sequence_header(message: Message) -> bool:
    if message.type_id == rtmp.VIDEO:
        return flv.video_info(message.payload).sequence_header
    return message.type_id == rtmp.AUDIO and flv.is_audio_sequence_header(message.payload)


class RtmpStage:
    """Between an RTMP publisher and its Broadcast: the program as it comes, or composed with the guests (see the
    module's docstring). ``take`` is the Broadcast's way in; the program goes out by ``Broadcast.on_program``."""

    def __init__(self, broadcast: Broadcast, stage: Stage, keyframe_seconds: float) -> None:
        self.broadcast = broadcast
        self.stage = stage
        self.keyframe_seconds = keyframe_seconds
        self.headers: dict[int, Message] = {}  # the publisher's own sequence headers, for the way back
        self.decoder = TagDecoder()  # used by the worker only
        self.decoding = False
        self.encoder: ProgramEncoder | None = None  # not None: the program is the composed one
        self.inbox: asyncio.Queue[Message | None] = asyncio.Queue(INBOX)
        self.worker = asyncio.ensure_future(self._work())
        stage.host_on_camera = True

    def _wanted(self) -> bool:
        return any(guest.picture is not None for guest in list(self.stage.guests.values()))

    async def take(self, message: Message) -> None:
        if _sequence_header(message):
            self.headers[message.type_id] = message
        media = message.type_id in (rtmp.VIDEO, rtmp.AUDIO)
        if media and (self.stage.guests or self.encoder is not None):
            if not self.decoding:  # from a standstill: the decoder starts at the headers and the next keyframe
                self.decoding = True
                for header in self.headers.values():
                    if header is not message:
                        await self.inbox.put(header)
            await self.inbox.put(message)
        elif media:
            self.decoding = False
        if self.encoder is None:
            await self.broadcast.on_program(message)

    async def _work(self) -> None:
        async for frames in decoded(self.decoder, self.inbox, "rtmp stage"):
            for frame in frames:  # the guests see and hear the host
                self.stage.host_feed("video" if isinstance(frame, VideoFrame) else "audio").put(frame)
            await self._switch(any(isinstance(frame, VideoFrame) for frame in frames))
            encoder = self.encoder
            for frame in frames:
                if encoder is None:
                    break
                for out in await asyncio.to_thread(encoder.encode, frame):
                    await self.broadcast.on_program(out)

    async def _switch(self, picture: bool) -> None:
        wanted, broadcast = self._wanted(), self.broadcast
        if wanted and self.encoder is None and picture and broadcast.ffmpeg is not None:
            has_audio = rtmp.AUDIO in self.headers
            self.encoder = ProgramEncoder(self.stage, has_audio=has_audio, keyframe_seconds=self.keyframe_seconds)
            await broadcast.recut()
            log.info("rtmp program composed with the stage", extra={"room_id": broadcast.room_id})
        elif not wanted and self.encoder is not None:
            encoder = self.encoder  # stays set until the publisher's program is back: nothing passes meanwhile
            await broadcast.recut()
            for header in self.headers.values():
                await broadcast.on_program(header)
            broadcast.need_keyframe = True  # the publisher's program resumes at its next keyframe
            self.encoder = None
            with contextlib.suppress(Exception):  # its last packets belong to the ffmpeg that has gone
                await asyncio.to_thread(encoder.close)
            log.info("rtmp program back to the publisher's own", extra={"room_id": broadcast.room_id})

    async def close(self) -> None:
        self.stage.host_on_camera = False
        if self.inbox.full():
            self.worker.cancel()
        else:
            self.inbox.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self.worker
