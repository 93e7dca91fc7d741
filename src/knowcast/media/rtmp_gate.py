"""The RTMP gate: the embedded ingest's front door on port 1935.

It plays RTMP server just far enough to learn which stream key a publisher sends (handshake, ``connect``,
``createStream``, ``publish``), asks the ingest whether that key may publish, and only then relays the media
to it. ffmpeg listening on RTMP itself would take any key with a warning, which is why this gate exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from dataclasses import dataclass
from typing import Any, Protocol

from knowcast.media import rtmp
from knowcast.media.rtmp import ChunkReader, ChunkWriter, Message, ProtocolError

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0
MAX_COMMANDS_BEFORE_PUBLISH = 50
WINDOW = 2_500_000
MEDIA_TYPES = frozenset({rtmp.AUDIO, rtmp.VIDEO, rtmp.DATA_AMF0})


class PublishRefused(Exception):
    """The gate says no to a publisher; ``message`` is shown to the host's encoder."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PublishRequest:
    app: str
    stream_key: str
    peer: str


class Link(Protocol):
    """What a media sink may do to the publisher's connection."""

    def kick(self, message: str) -> None: ...


class MediaSink(Protocol):
    async def write(self, message: Message) -> None: ...

    async def end(self, reason: str) -> None: ...


class Publishers(Protocol):
    """The ingest behind the gate: decides who may publish and takes the media."""

    async def begin(self, request: PublishRequest, link: Link) -> MediaSink: ...


class _Connection:
    """One TCP connection: negotiate, then relay. Each error ends only this connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, publishers: Publishers) -> None:
        self.reader, self.writer = reader, writer
        self.chunks = ChunkReader(reader)
        self.out = ChunkWriter(writer)
        self.publishers = publishers
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unknown"
        self.app = ""
        self.acked = 0
        self.peer_window = 0

    def kick(self, message: str) -> None:
        with contextlib.suppress(Exception):
            self._status(1, "error", "NetStream.Publish.Rejected", message)
        self.writer.close()

    async def run(self) -> None:
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                await rtmp.server_handshake(self.reader, self.writer)
                sink = await self._negotiate()
            if sink is not None:
                await self._relay(sink)
        except (ProtocolError, asyncio.IncompleteReadError, ConnectionError, TimeoutError, OSError) as exc:
            log.info("rtmp connection closed", extra={"peer": self.peer, "reason": type(exc).__name__})
        finally:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _negotiate(self) -> MediaSink | None:
        for _ in range(MAX_COMMANDS_BEFORE_PUBLISH):
            message = await self.chunks.read_message()
            self._ack_if_due()
            if message.type_id == rtmp.WINDOW_ACK_SIZE and len(message.payload) >= 4:
                self.peer_window = struct.unpack(">I", message.payload[:4])[0]
            if message.type_id not in (rtmp.COMMAND_AMF0, rtmp.COMMAND_AMF3):
                continue
            values = message.command()
            if len(values) < 2 or not isinstance(values[0], str):
                raise ProtocolError("malformed command")
            sink = await self._on_command(values[0], values, message.stream_id)
            await self.out.drain()
            if sink is not None or self.writer.is_closing():
                return sink
        raise ProtocolError("too many commands before publish")

    async def _on_command(self, name: str, values: list[Any], stream_id: int) -> MediaSink | None:
        txn = values[1] if isinstance(values[1], int | float) else 0
        if name == "connect":
            props = values[2] if len(values) > 2 and isinstance(values[2], dict) else {}
            self.app = str(props.get("app", "")).split("?", 1)[0].strip("/")
            self._accept_connect(txn)
        elif name == "createStream":
            self.out.command(0, "_result", txn, None, 1)
        elif name in ("releaseStream", "FCPublish", "getStreamLength"):
            self.out.command(0, "_result", txn, None)
        elif name == "publish":
            key = str(values[3]) if len(values) > 3 and values[3] is not None else ""
            return await self._publish(key.split("?", 1)[0], stream_id or 1)
        elif name == "play":
            self._status(stream_id or 1, "error", "NetStream.Play.Failed", "this server only takes publishers")
            self.writer.close()
        elif name in ("deleteStream", "closeStream", "FCUnpublish"):
            self.writer.close()
        return None

    def _accept_connect(self, txn: float) -> None:
        self.out.control(rtmp.WINDOW_ACK_SIZE, struct.pack(">I", WINDOW))
        self.out.control(rtmp.SET_PEER_BANDWIDTH, struct.pack(">IB", WINDOW, 2))
        self.out.set_chunk_size()
        info = {
            "level": "status",
            "code": "NetConnection.Connect.Success",
            "description": "Connection succeeded.",
            "objectEncoding": 0,
        }
        self.out.command(0, "_result", txn, {"fmsVer": "FMS/3,0,1,123", "capabilities": 31}, info)

    async def _publish(self, key: str, stream_id: int) -> MediaSink | None:
        request = PublishRequest(self.app, key, self.peer)
        try:
            sink = await self.publishers.begin(request, self)
        except PublishRefused as refused:
            log.warning("rtmp publish refused", extra={"peer": self.peer, "code": refused.code, "app": self.app})
            self._status(stream_id, "error", "NetStream.Publish.BadName", refused.message)
            await self.out.drain()
            self.writer.close()
            return None
        self.out.control(rtmp.USER_CONTROL, struct.pack(">HI", rtmp.STREAM_BEGIN, stream_id))
        self._status(stream_id, "status", "NetStream.Publish.Start", f"{key[:6]}… is now published.")
        return sink

    def _status(self, stream_id: int, level: str, code: str, description: str) -> None:
        self.out.command(stream_id, "onStatus", 0, None, {"level": level, "code": code, "description": description})

    async def _relay(self, sink: MediaSink) -> None:
        reason = "publisher closed the connection"
        try:
            while True:
                message = await asyncio.wait_for(self.chunks.read_message(), IDLE_TIMEOUT)
                self._ack_if_due()
                if message.type_id in MEDIA_TYPES:
                    await sink.write(message)
                elif message.type_id == rtmp.AGGREGATE:
                    for part in _unpack_aggregate(message):
                        await sink.write(part)
                elif message.type_id in (rtmp.COMMAND_AMF0, rtmp.COMMAND_AMF3):
                    values = message.command()
                    if values and values[0] in ("FCUnpublish", "deleteStream", "closeStream"):
                        reason = "publisher stopped"
                        return
        except TimeoutError:
            reason = "publisher sent nothing for too long"
            raise
        except (ProtocolError, asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            reason = f"connection lost ({type(exc).__name__})"
            raise
        finally:
            await sink.end(reason)

    def _ack_if_due(self) -> None:
        window = self.peer_window or WINDOW
        if self.chunks.bytes_read - self.acked >= window:
            self.acked = self.chunks.bytes_read
            self.out.control(rtmp.ACK, struct.pack(">I", self.acked & 0xFFFFFFFF))


def _unpack_aggregate(message: Message) -> list[Message]:
    """An aggregate message is FLV tags back to back; their timestamps are relative to the first one."""
    parts, pos, data, base = [], 0, message.payload, None
    while pos + 11 <= len(data):
        kind, size = data[pos], int.from_bytes(data[pos + 1 : pos + 4], "big")
        stamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        base = stamp if base is None else base
        body = data[pos + 11 : pos + 11 + size]
        if len(body) < size:
            break
        parts.append(Message(kind, message.stream_id, message.timestamp + stamp - base, body))
        pos += 11 + size + 4
    return parts


class RtmpGate:
    """The listening socket (a Component). ``port=0`` picks a free port, read back from ``.port``."""

    def __init__(self, publishers: Publishers, host: str, port: int) -> None:
        self.publishers = publishers
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("rtmp gate listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _Connection(reader, writer, self.publishers).run()
        finally:
            self._connections.discard(task)
