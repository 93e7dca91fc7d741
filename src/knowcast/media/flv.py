"""FLV: the container RTMP media messages already are, written to ffmpeg's stdin, and codec sniffing.

An RTMP audio or video message body is exactly an FLV tag body, so handing a stream to ffmpeg is writing a
9-byte FLV header and then one tag per message. The first byte of each body names the codec, which is how we
decide between passthrough and transcoding before ffmpeg starts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

AUDIO_TAG, VIDEO_TAG, SCRIPT_TAG = 8, 9, 18
HEADER = b"FLV\x01\x05\x00\x00\x00\x09" + b"\x00\x00\x00\x00"  # audio + video, then PreviousTagSize0

VIDEO_CODECS = {2: "h263", 4: "vp6", 5: "vp6a", 7: "h264", 12: "hevc"}
ENHANCED_VIDEO = {b"avc1": "h264", b"hvc1": "hevc", b"av01": "av1", b"vp09": "vp9"}
AUDIO_CODECS = {
    0: "pcm",
    1: "adpcm",
    2: "mp3",
    3: "pcm",
    4: "nellymoser",
    5: "nellymoser",
    6: "nellymoser",
    7: "g711",
    8: "g711",
    10: "aac",
    11: "speex",
    14: "mp3",
}
ENHANCED_AUDIO = {b"Opus": "opus", b"mp4a": "aac", b"fLaC": "flac", b"ac-3": "ac3", b"ec-3": "eac3", b".mp3": "mp3"}
SET_DATA_FRAME = b"\x02\x00\x0d@setDataFrame"


def tag(tag_type: int, timestamp: int, body: bytes) -> bytes:
    """One FLV tag followed by its PreviousTagSize."""
    size = len(body)
    stamp = timestamp & 0xFFFFFFFF
    head = bytes([tag_type]) + size.to_bytes(3, "big") + (stamp & 0xFFFFFF).to_bytes(3, "big")
    head += bytes([stamp >> 24]) + b"\x00\x00\x00"
    return head + body + struct.pack(">I", size + 11)


def script_body(payload: bytes) -> bytes:
    """RTMP sends metadata as ``@setDataFrame onMetaData {...}``; in FLV it is ``onMetaData {...}``."""
    return payload[len(SET_DATA_FRAME) :] if payload.startswith(SET_DATA_FRAME) else payload


@dataclass(frozen=True, slots=True)
class VideoInfo:
    codec: str
    keyframe: bool
    sequence_header: bool


def video_info(body: bytes) -> VideoInfo:
    if not body:
        return VideoInfo("unknown", False, False)
    first = body[0]
    if first & 0x80:  # enhanced RTMP: frame type, packet type, then a FourCC
        frame_type, packet_type = (first >> 4) & 0x07, first & 0x0F
        codec = ENHANCED_VIDEO.get(body[1:5], "unknown")
        return VideoInfo(codec, frame_type == 1, packet_type == 0)
    codec = VIDEO_CODECS.get(first & 0x0F, "unknown")
    sequence = codec in ("h264", "hevc") and len(body) > 1 and body[1] == 0
    return VideoInfo(codec, first >> 4 == 1, sequence)


def audio_codec(body: bytes) -> str:
    if not body:
        return "unknown"
    sound_format = body[0] >> 4
    if sound_format == 9:  # enhanced RTMP audio
        return ENHANCED_AUDIO.get(body[1:5], "unknown")
    return AUDIO_CODECS.get(sound_format, "unknown")


def is_audio_sequence_header(body: bytes) -> bool:
    return len(body) > 1 and body[0] >> 4 == 10 and body[1] == 0
