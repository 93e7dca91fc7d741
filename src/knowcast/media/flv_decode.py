"""FLV messages (RTMP's H.264 and AAC, as the Broadcast passes them to ffmpeg) decoded back to PyAV frames.

Used where the program must be seen as pictures and sound in this process: WebRTC viewing (``whep.py``) and an
RTMP host's 连麦 stage (``program.py``), which composes the host's decoded pictures with the guests'.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections.abc import AsyncIterator

import av
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import VideoFrame

from knowcast.media import flv, rtmp
from knowcast.media.rtmp import Message

log = logging.getLogger(__name__)
MS = fractions.Fraction(1, 1000)

Frame = VideoFrame | AudioFrame


async def decoded(decoder: TagDecoder, inbox: asyncio.Queue[Message | None], who: str) -> AsyncIterator[list[Frame]]:
    """The frames of each message from ``inbox`` until a None, decoded off the event loop; a message that does not
    decode is logged (as ``who``'s) and skipped, as the decoder picks up again at the next keyframe."""
    while (message := await inbox.get()) is not None:
        try:
            frames = await asyncio.to_thread(decoder.decode, message)
        except av.FFmpegError as exc:
            log.warning("%s could not decode", who, extra={"error": str(exc)})
            continue
        yield frames


class TagDecoder:
    """FLV H.264/AAC messages to frames. Not thread-safe: one worker (its owner's) uses it at a time."""

    def __init__(self) -> None:
        self.video: av.VideoCodecContext | None = None
        self.audio: av.AudioCodecContext | None = None
        self.resampler = AudioResampler(format="s16", layout="stereo", rate=48_000)  # what aiortc's Opus takes
        self.keyframe_seen = False
        self.last_pts = -1
        self.offset = 0

    def decode(self, message: Message) -> list[Frame]:
        if message.type_id == rtmp.VIDEO:
            return self._video(message)
        if message.type_id == rtmp.AUDIO:
            return self._audio(message)
        return []

    def _video(self, message: Message) -> list[Frame]:
        body = message.payload
        info = flv.video_info(body)
        if info.codec != "h264" or len(body) < 6 or body[0] & 0x80:
            return []
        if info.sequence_header:
            self.video = av.VideoCodecContext.create("h264", "r")
            self.video.extradata = body[5:]  # the AVCDecoderConfigurationRecord
            self.keyframe_seen = False
            return []
        if self.video is None or not (self.keyframe_seen or info.keyframe):
            return []
        self.keyframe_seen = True
        cts = int.from_bytes(body[2:5], "big", signed=True)
        packet = av.Packet(body[5:])
        packet.pts, packet.dts, packet.time_base = message.timestamp + cts, message.timestamp, MS
        frames: list[Frame] = []
        for frame in self.video.decode(packet):  # in display order, each with its own packet's pts
            if frame.pts is None:
                continue
            if frame.pts + self.offset <= self.last_pts:  # the publisher's clock restarted (a reconnect)
                self.offset = self.last_pts + 1 - frame.pts
            # time only moves forward downstream: libvpx refuses a picture that goes back
            frame.pts, frame.time_base = frame.pts + self.offset, MS
            self.last_pts = frame.pts
            frames.append(frame)
        return frames

    def _audio(self, message: Message) -> list[Frame]:
        body = message.payload
        if flv.audio_codec(body) != "aac" or len(body) < 3:
            return []
        if body[1] == 0:
            self.audio = av.AudioCodecContext.create("aac", "r")
            self.audio.extradata = body[2:]  # the AudioSpecificConfig
            return []
        if self.audio is None:
            return []
        packet = av.Packet(body[2:])
        packet.pts, packet.time_base = message.timestamp, MS
        frames: list[Frame] = []
        for frame in self.audio.decode(packet):  # aiortc's Opus encoder counts its own samples: no stamps needed
            frames.extend(self.resampler.resample(frame))
        return frames
