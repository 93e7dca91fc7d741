"""Decoded WebRTC frames in, RTMP-shaped FLV messages out: how a WHIP publisher joins the RTMP pipeline.

aiortc hands us decoded pictures and sound. We encode them to H.264 (x264, zerolatency, a keyframe every
segment) and AAC with PyAV, mux to FLV in memory and cut the byte stream back into tags, which are exactly the
messages an RTMP encoder sends. ``Broadcast`` then treats them as it treats OBS: passthrough to ffmpeg's HLS,
recording, health, restarts. Timestamps come from one wall clock shared by both tracks, since WebRTC's RTP
clocks start at random points.
"""

from __future__ import annotations

import fractions
import time
from collections.abc import Callable

import av
from av.audio.frame import AudioFrame
from av.video.frame import PictureType, VideoFrame

from knowcast.media.rtmp import Message

MS = fractions.Fraction(1, 1000)
AUDIO_RATE = 48_000
VIDEO_KBPS = 2_500
FLV_HEADER_BYTES = 13  # the 9-byte header and PreviousTagSize0


class TagSplitter:
    """A write-only file for PyAV's FLV muxer that cuts what it writes into RTMP messages."""

    def __init__(self, emit: Callable[[Message], None]) -> None:
        self.emit = emit
        self.buffer = bytearray()
        self.header_left = FLV_HEADER_BYTES

    def write(self, data: bytes) -> int:
        self.buffer += data
        if self.header_left:
            skipped = min(self.header_left, len(self.buffer))
            del self.buffer[:skipped]
            self.header_left -= skipped
        self._split()
        return len(data)

    def _split(self) -> None:
        while len(self.buffer) >= 11:
            size = int.from_bytes(self.buffer[1:4], "big")
            if len(self.buffer) < 11 + size + 4:
                return
            kind = self.buffer[0]
            stamp = int.from_bytes(self.buffer[4:7], "big") | (self.buffer[7] << 24)
            body = bytes(self.buffer[11 : 11 + size])
            del self.buffer[: 11 + size + 4]
            self.emit(Message(kind, 1, stamp, body))  # FLV tag types are RTMP's message types (8, 9, 18)


class FlvEncoder:
    """One publisher's encoder. Not thread-safe: one caller at a time (the WHIP session's worker)."""

    def __init__(self, emit: Callable[[Message], None], *, has_audio: bool, keyframe_seconds: float) -> None:
        self.splitter = TagSplitter(emit)
        self.has_audio = has_audio
        self.keyframe_ms = int(keyframe_seconds * 1000)
        self.container: av.container.OutputContainer | None = None
        self.video: av.VideoStream | None = None
        self.audio: av.AudioStream | None = None
        self.started = time.monotonic()
        self.last_video_ms = -1
        self.last_key_ms = -(10**9)
        self.audio_samples: int | None = None

    def _open(self, width: int, height: int) -> None:
        # flush_packets: each tag leaves at once instead of waiting for a 32 KB buffer to fill
        options = {"flvflags": "no_duration_filesize", "flush_packets": "1"}
        container = av.open(self.splitter, "w", format="flv", container_options=options)
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = MS
        video.bit_rate = VIDEO_KBPS * 1000
        video.codec_context.options = {"preset": "veryfast", "tune": "zerolatency", "bf": "0"}
        if self.has_audio:
            self.audio = container.add_stream("aac", rate=AUDIO_RATE)
            self.audio.layout = "stereo"
            self.audio.bit_rate = 128_000
        self.container, self.video = container, video

    def now_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def add_video(self, frame: VideoFrame) -> None:
        if self.container is None:
            self._open(frame.width - frame.width % 2, frame.height - frame.height % 2)
        assert self.video is not None and self.container is not None
        stamp = max(self.now_ms(), self.last_video_ms + 1)
        self.last_video_ms = stamp
        picture = frame.reformat(width=self.video.width, height=self.video.height, format="yuv420p")
        picture.pts, picture.time_base = stamp, MS
        if stamp - self.last_key_ms >= self.keyframe_ms:
            picture.pict_type = PictureType.I  # a keyframe on every segment boundary keeps 1 s segments 1 s
            self.last_key_ms = stamp
        for packet in self.video.encode(picture):
            self.container.mux(packet)

    def add_audio(self, frame: AudioFrame) -> None:
        if self.container is None or self.audio is None:
            return  # sound before the first picture: the stream starts with video
        if self.audio_samples is None:  # then sample-exact: a wall-clock stamp per frame would crackle
            self.audio_samples = self.now_ms() * frame.sample_rate // 1000
        frame.pts, frame.time_base = self.audio_samples, fractions.Fraction(1, frame.sample_rate)
        self.audio_samples += frame.samples
        for packet in self.audio.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        container, self.container = self.container, None
        if container is None:
            return
        for stream in (self.video, self.audio):
            if stream is not None:
                for packet in stream.encode(None):
                    container.mux(packet)
        container.close()
