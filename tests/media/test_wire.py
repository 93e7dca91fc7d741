"""The pieces of the wire format on their own: AMF0, RTMP chunks, FLV tags and codec sniffing."""

from __future__ import annotations

import asyncio
import struct

import pytest

from knowcast.media import amf0, flv, rtmp
from knowcast.media.rtmp import ChunkReader, Message, ProtocolError


def test_amf0_round_trips_what_publishers_send() -> None:
    values = ["connect", 1.0, {"app": "live", "tcUrl": "rtmp://x/live", "nested": {"ok": True}}, None, [1.0, "two"]]
    assert amf0.decode_all(amf0.encode_all(*values)) == values


@pytest.mark.parametrize("data", [b"\x02\x00\x05ab", b"\x11", b"\x03\x00\x01a", b"\x0a\xff\xff\xff\xff", b"\x00\x00"])
def test_amf0_refuses_garbage_with_an_error_not_a_crash(data: bytes) -> None:
    with pytest.raises(amf0.AmfError):
        amf0.decode_all(data)


def test_amf0_refuses_deep_nesting() -> None:
    data = b"\x03" + b"\x00\x01a\x03" * 40
    with pytest.raises(amf0.AmfError):
        amf0.decode_all(data)


def _reader(data: bytes) -> ChunkReader:
    stream = asyncio.StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    return ChunkReader(stream)


def _chunks(csid: int, type_id: int, payload: bytes, timestamp: int = 0, chunk: int = 128) -> bytes:
    head = bytes([csid]) + timestamp.to_bytes(3, "big") + len(payload).to_bytes(3, "big") + bytes([type_id])
    out = head + struct.pack("<I", 1) + payload[:chunk]
    for start in range(chunk, len(payload), chunk):
        out += bytes([0xC0 | csid]) + payload[start : start + chunk]
    return out


async def test_messages_are_reassembled_across_chunks_and_chunk_size_changes() -> None:
    big = bytes(range(256)) * 3
    data = _chunks(4, rtmp.VIDEO, big, timestamp=40)
    data += _chunks(2, rtmp.SET_CHUNK_SIZE, struct.pack(">I", 4096))
    data += _chunks(4, rtmp.VIDEO, big, timestamp=80, chunk=4096)
    reader = _reader(data)
    first = await reader.read_message()
    assert (first.type_id, first.timestamp, first.payload) == (rtmp.VIDEO, 40, big)
    second = await reader.read_message()
    assert second.payload == big and reader.chunk_size == 4096


async def test_a_type_3_header_continues_the_previous_timestamp_delta() -> None:
    data = _chunks(6, rtmp.AUDIO, b"a", timestamp=10)
    data += bytes([0x86]) + (23).to_bytes(3, "big")  # type 2: delta 23, same length and type
    data += b"b"
    data += bytes([0xC6]) + b"c"  # type 3 starting a new message: same delta again
    reader = _reader(data)
    stamps = [(await reader.read_message()).timestamp for _ in range(3)]
    assert stamps == [10, 33, 56]


@pytest.mark.parametrize(
    "data",
    [
        bytes([0x46]) + b"\x00" * 7,  # a stream that starts without a full header
        b"\x03" + b"\x00" * 3 + b"\xff\xff\xff" + b"\x14" + b"\x00" * 4,  # a 16 MiB message: too large
        _chunks(2, rtmp.SET_CHUNK_SIZE, struct.pack(">I", 0)),
    ],
)
async def test_protocol_violations_raise_protocol_error(data: bytes) -> None:
    with pytest.raises((ProtocolError, asyncio.IncompleteReadError)):
        await _reader(data).read_message()


def test_command_decoding_reports_bad_amf_as_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        Message(rtmp.COMMAND_AMF0, 0, 0, b"\x02\x00\x09conn").command()


def test_flv_tags_and_codec_sniffing() -> None:
    body = bytes([0x17, 0x00]) + b"avcC"
    tag = flv.tag(flv.VIDEO_TAG, 0x01020304, body)
    assert tag[0] == 9 and tag[1:4] == len(body).to_bytes(3, "big")
    assert tag[4:7] == b"\x02\x03\x04" and tag[7] == 0x01  # 24 low bits, then the extension byte
    assert struct.unpack(">I", tag[-4:])[0] == 11 + len(body)
    info = flv.video_info(body)
    assert (info.codec, info.keyframe, info.sequence_header) == ("h264", True, True)
    enhanced = bytes([0x80 | 0x10 | 0x01]) + b"hvc1"
    assert flv.video_info(enhanced).codec == "hevc"
    assert flv.audio_codec(bytes([0xAF, 0x00])) == "aac" and flv.is_audio_sequence_header(bytes([0xAF, 0x00]))
    assert flv.audio_codec(bytes([0x2F])) == "mp3"
    assert flv.audio_codec(b"") == "unknown" and flv.video_info(b"").codec == "unknown"
    assert flv.script_body(flv.SET_DATA_FRAME + b"\x02\x00\x0aonMetaData").startswith(b"\x02\x00\x0aonMetaData")
