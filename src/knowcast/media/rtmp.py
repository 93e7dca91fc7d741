"""The RTMP wire format, server side: the handshake, the chunk stream, and the messages a publisher needs.

Just enough of the protocol to let an encoder (OBS, ffmpeg) connect and publish: the simple handshake,
chunk reassembly with per-stream headers, protocol control messages, and AMF0 commands. Limits on message
size and chunk size keep a hostile peer from making us allocate without bound.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from dataclasses import dataclass
from typing import Any

from knowcast.media import amf0

VERSION = 3
HANDSHAKE_SIZE = 1536
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_CHUNK_SIZE = 1 << 24
MAX_OPEN_STREAMS = 64
OUT_CHUNK_SIZE = 4096
EXTENDED = 0xFFFFFF

SET_CHUNK_SIZE, ABORT, ACK, USER_CONTROL, WINDOW_ACK_SIZE, SET_PEER_BANDWIDTH = 1, 2, 3, 4, 5, 6
AUDIO, VIDEO, DATA_AMF3, COMMAND_AMF3, DATA_AMF0, COMMAND_AMF0, AGGREGATE = 8, 9, 15, 17, 18, 20, 22
STREAM_BEGIN = 0


class ProtocolError(Exception):
    """The peer broke the protocol (or is not speaking RTMP at all)."""


@dataclass(frozen=True, slots=True)
class Message:
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes

    def command(self) -> list[Any]:
        """The AMF0 values of a command or data message (AMF3 commands carry AMF0 after one format byte)."""
        body = self.payload[1:] if self.type_id in (COMMAND_AMF3, DATA_AMF3) else self.payload
        try:
            return amf0.decode_all(body)
        except amf0.AmfError as exc:
            raise ProtocolError(str(exc)) from exc


async def server_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The simple (unsigned) handshake, which OBS, ffmpeg and librtmp publishers all accept."""
    version = (await reader.readexactly(1))[0]
    if version != VERSION:
        raise ProtocolError(f"not RTMP (version byte {version})")
    c1 = await reader.readexactly(HANDSHAKE_SIZE)
    s1 = struct.pack(">II", int(time.monotonic() * 1000) & 0xFFFFFFFF, 0) + os.urandom(HANDSHAKE_SIZE - 8)
    writer.write(bytes([VERSION]) + s1 + c1)
    await writer.drain()
    await reader.readexactly(HANDSHAKE_SIZE)  # C2 echoes S1; nothing in it is worth checking


@dataclass
class _StreamState:
    timestamp: int = 0
    delta: int = 0
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    extended: bool = False
    buffer: bytearray | None = None


class ChunkReader:
    """Reassembles messages from the peer's chunk stream; handles Set Chunk Size and Abort itself."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.chunk_size = 128
        self.bytes_read = 0
        self.streams: dict[int, _StreamState] = {}

    async def _read(self, n: int) -> bytes:
        data = await self.reader.readexactly(n)
        self.bytes_read += n
        return data

    async def read_message(self) -> Message:
        while True:
            message = await self._read_chunk()
            if message is None:
                continue
            if message.type_id == SET_CHUNK_SIZE:
                self._set_chunk_size(message.payload)
            elif message.type_id == ABORT and len(message.payload) >= 4:
                state = self.streams.get(struct.unpack(">I", message.payload[:4])[0])
                if state is not None:
                    state.buffer = None
            else:
                return message

    def _set_chunk_size(self, payload: bytes) -> None:
        if len(payload) < 4:
            raise ProtocolError("short Set Chunk Size")
        size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
        if not 1 <= size <= MAX_CHUNK_SIZE:
            raise ProtocolError(f"chunk size {size} out of range")
        self.chunk_size = size

    async def _read_chunk(self) -> Message | None:
        first = (await self._read(1))[0]
        fmt, csid = first >> 6, first & 0x3F
        if csid == 0:
            csid = 64 + (await self._read(1))[0]
        elif csid == 1:
            low, high = await self._read(2)
            csid = 64 + low + high * 256
        state = self.streams.get(csid)
        if state is None:
            if fmt != 0 or len(self.streams) >= MAX_OPEN_STREAMS:
                raise ProtocolError(f"chunk stream {csid} starts without a full header")
            state = self.streams[csid] = _StreamState()
        await self._read_header(fmt, state)
        return await self._read_body(state)

    async def _read_header(self, fmt: int, state: _StreamState) -> None:
        if fmt == 3:
            if state.extended:
                await self._read(4)  # repeats the extended timestamp of the message's first chunk
            if state.buffer is None:  # a new message on this stream, same header as the last one
                state.timestamp = (state.timestamp + state.delta) & 0xFFFFFFFF
            return
        header = await self._read((11, 7, 3)[fmt])
        stamp = int.from_bytes(header[0:3], "big")
        if fmt <= 1:
            state.length = int.from_bytes(header[3:6], "big")
            state.type_id = header[6]
        if fmt == 0:
            state.stream_id = struct.unpack("<I", header[7:11])[0]
        state.extended = stamp == EXTENDED
        if state.extended:
            stamp = struct.unpack(">I", await self._read(4))[0]
        if state.length > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"message of {state.length} bytes is too large")
        if fmt == 0:  # like ffmpeg, a type 3 message after a type 0 one adds the type 0 timestamp again
            state.timestamp, state.delta = stamp, stamp
        else:
            state.timestamp, state.delta = (state.timestamp + stamp) & 0xFFFFFFFF, stamp
        state.buffer = None

    async def _read_body(self, state: _StreamState) -> Message | None:
        if state.buffer is None:
            state.buffer = bytearray()
        want = min(self.chunk_size, state.length - len(state.buffer))
        state.buffer += await self._read(want)
        if len(state.buffer) < state.length:
            return None
        payload, state.buffer = bytes(state.buffer), None
        return Message(state.type_id, state.stream_id, state.timestamp, payload)


class ChunkWriter:
    """Writes our replies: every message starts with a full (type 0) header, continuations use type 3."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.chunk_size = 128

    def send(self, csid: int, message: Message) -> None:
        stamp = message.timestamp & 0xFFFFFFFF
        wide = stamp >= EXTENDED
        header = bytes([csid & 0x3F]) + (EXTENDED if wide else stamp).to_bytes(3, "big")
        header += len(message.payload).to_bytes(3, "big") + bytes([message.type_id])
        header += struct.pack("<I", message.stream_id) + (struct.pack(">I", stamp) if wide else b"")
        out = bytearray(header)
        payload = message.payload
        for start in range(0, max(len(payload), 1), self.chunk_size):
            if start:
                out += bytes([0xC0 | (csid & 0x3F)]) + (struct.pack(">I", stamp) if wide else b"")
            out += payload[start : start + self.chunk_size]
        self.writer.write(bytes(out))

    def control(self, type_id: int, payload: bytes) -> None:
        self.send(2, Message(type_id, 0, 0, payload))

    def set_chunk_size(self, size: int = OUT_CHUNK_SIZE) -> None:
        self.control(SET_CHUNK_SIZE, struct.pack(">I", size))
        self.chunk_size = size

    def command(self, stream_id: int, *values: Any) -> None:
        self.send(3 if stream_id == 0 else 5, Message(COMMAND_AMF0, stream_id, 0, amf0.encode_all(*values)))

    async def drain(self) -> None:
        await self.writer.drain()
