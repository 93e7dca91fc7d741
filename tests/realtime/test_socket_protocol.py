"""The live endpoint's own WebSocket protocol (realtime/socket_protocol.py), spoken to byte by byte over a
real socket to a real uvicorn: the handshake answers, the frames a browser may and may not send, and a join."""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from knowcast.realtime import routes
from knowcast.realtime.hub import Hub
from tests.realtime.harness import LiveApp, client_frame

RFC_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example key and its accept value
RFC_ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def handshake(room_id: int, *extra: bytes, key: bytes = RFC_KEY, version: bytes = b"13") -> bytes:
    lines = [
        f"GET /api/v1/rooms/{room_id}/live HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + key,
        b"Sec-WebSocket-Version: " + version,
        *extra,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


class RawClient:
    """A WebSocket client with no opinions: it writes exactly the bytes a test gives it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, live: LiveApp) -> RawClient:
        host, port = live.base.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def answer(self, request: bytes) -> Answer:
        self.writer.write(request)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower().encode()] = value.strip().encode()
        status = int(status_line.split()[1])
        body = b""
        if status != 101:
            body = await asyncio.wait_for(self.reader.readexactly(int(headers[b"content-length"])), 10)
        return Answer(status, headers, body)

    async def open_socket(self, room_id: int) -> None:
        assert (await self.answer(handshake(room_id))).status == 101

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def frame(self) -> tuple[int, bytes]:
        """The server's next frame (opcode, payload); server frames are never masked."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), 10)
        assert second & 0x80 == 0
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(size)

    async def close_code(self) -> tuple[int, str]:
        """Read frames up to the server's close frame: its code and reason."""
        while True:
            opcode, payload = await self.frame()
            if opcode == CLOSE:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    async def message(self, kind: str) -> dict[str, Any]:
        while True:
            opcode, payload = await self.frame()
            assert opcode == TEXT, (opcode, payload)
            message: dict[str, Any] = json.loads(payload)
            if message["type"] == kind:
                return message

    async def ends(self) -> None:
        """The server ends the TCP connection."""
        assert await asyncio.wait_for(self.reader.read(), 10) == b""

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def client(live: LiveApp) -> Any:
    raw = await RawClient.open(live)
    yield raw
    raw.close()


JOIN = json.dumps({"type": "join", "v": 1}).encode()


async def test_the_handshake_is_answered_101_with_the_accept_key_and_no_extension(client: RawClient, room: Any) -> None:
    answer = await client.answer(handshake(room["id"], b"Sec-WebSocket-Extensions: permessage-deflate"))
    assert answer.status == 101
    assert answer.headers[b"sec-websocket-accept"] == RFC_ACCEPT
    assert answer.headers[b"upgrade"].lower() == b"websocket" and b"upgrade" in answer.headers[b"connection"].lower()
    assert b"date" in answer.headers and b"sec-websocket-extensions" not in answer.headers
    assert b"sec-websocket-protocol" not in answer.headers


async def test_another_websocket_version_is_answered_426(client: RawClient, room: Any) -> None:
    answer = await client.answer(handshake(room["id"], version=b"8"))
    assert answer.status == 426 and answer.headers[b"sec-websocket-version"] == b"13"
    await client.ends()


@pytest.mark.parametrize("key", [b"c2hvcnQ=", b"not base64 at all!!!", b"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
async def test_a_bad_key_is_answered_400(client: RawClient, room: Any, key: bytes) -> None:
    answer = await client.answer(handshake(room["id"], key=key))
    assert answer.status == 400 and b"Sec-WebSocket-Key" in answer.body
    await client.ends()


async def test_a_cross_site_page_is_answered_403(client: RawClient, room: Any) -> None:
    answer = await client.answer(handshake(room["id"], b"Origin: https://evil.example"))
    assert answer.status == 403
    await client.ends()


async def test_a_join_is_welcomed(client: RawClient, room: Any) -> None:
    await client.open_socket(room["id"])
    client.send(client_frame(JOIN))
    welcome = await client.message("welcome")
    assert welcome["room_id"] == room["id"]


async def test_a_socket_that_never_joins_is_closed_4408(
    client: RawClient, room: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first frame must be a join within JOIN_TIMEOUT; 4408 tells the page to reconnect (static/js/_live.js)."""
    monkeypatch.setattr(routes, "JOIN_TIMEOUT", 0.2)
    await client.open_socket(room["id"])
    assert (await client.close_code())[0] == 4408


async def test_a_join_is_timed_from_its_upgrade_to_its_welcome(client: RawClient, room: Any, live: LiveApp) -> None:
    """``knowcast_realtime_join_seconds``: the server's own measure of a join (what `knowcast bench join`
    reports beside the browsers' times)."""
    before = _joins_timed(live)
    await client.open_socket(room["id"])
    client.send(client_frame(JOIN))
    await client.message("welcome")
    assert _joins_timed(live) == before + 1
    async with httpx.AsyncClient(base_url=live.base) as http:
        metrics = (await http.get("/metrics")).text
    assert 'knowcast_realtime_join_seconds_bucket{le="3.0"}' in metrics


def _joins_timed(live: LiveApp) -> float:
    (family,) = live.ctx.runtime(Hub).join_seconds.collect()
    return next(sample.value for sample in family.samples if sample.name.endswith("_count"))


async def test_a_join_sent_with_the_handshake_is_read(client: RawClient, room: Any) -> None:
    """The frame arrives in the same packet as the headers: the HTTP parser hands it over with the socket."""
    client.send(handshake(room["id"]) + client_frame(JOIN))
    await client.reader.readuntil(b"\r\n\r\n")
    assert (await client.message("welcome"))["room_id"] == room["id"]


async def test_a_fragmented_text_message_is_assembled(client: RawClient, room: Any) -> None:
    await client.open_socket(room["id"])
    parts = [JOIN[:5], JOIN[5:9], JOIN[9:]]
    client.send(client_frame(parts[0], fin=False))
    client.send(client_frame(b"ping between fragments", PING))  # control frames may come between fragments
    client.send(client_frame(parts[1], 0x0, fin=False) + client_frame(parts[2], 0x0))
    assert await client.frame() == (PONG, b"ping between fragments")
    assert (await client.message("welcome"))["room_id"] == room["id"]


async def test_a_ping_is_answered_with_its_payload(client: RawClient, room: Any) -> None:
    await client.open_socket(room["id"])
    client.send(client_frame(b"\x00are you there?\xff", PING))
    assert await client.frame() == (PONG, b"\x00are you there?\xff")


async def test_a_client_close_is_echoed_and_the_connection_ends(client: RawClient, room: Any) -> None:
    await client.open_socket(room["id"])
    client.send(client_frame(struct.pack("!H", 1001) + b"going away", CLOSE))
    assert await client.close_code() == (1001, "going away")
    await client.ends()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(JOIN, masked=False), 1002),
        (client_frame(JOIN, rsv=0x40), 1002),  # permessage-deflate's bit, which we never agreed to
        (client_frame(JOIN, 0x3), 1002),  # a reserved opcode
        (client_frame(b"x" * 126, PING), 1002),  # a control frame over 125 bytes
        (client_frame(b"x", PING, fin=False), 1002),  # a fragmented control frame
        (client_frame(b"more", 0x0), 1002),  # a continuation with no message to continue
        (client_frame(b"a", fin=False) + client_frame(b"b"), 1002),  # a new message inside a fragmented one
        (client_frame(struct.pack("!H", 999), CLOSE), 1002),  # a close code nobody may send
        (client_frame(b"x" * 65_537), 1009),
        (client_frame(b"x" * 40_000, fin=False) + client_frame(b"x" * 40_000, 0x0), 1009),
        (client_frame(b'{"type": "join", "v": 1, "x": "\xff"}'), 1007),
        (client_frame(b"\xe4\xbd", fin=False) + client_frame(b"\xa0\xff", 0x0), 1007),
    ],
)
async def test_a_frame_against_the_protocol_closes_the_socket(
    client: RawClient, room: Any, frame: bytes, code: int
) -> None:
    await client.open_socket(room["id"])
    client.send(frame)
    assert (await client.close_code())[0] == code
    client.send(client_frame(struct.pack("!H", code), CLOSE))
    await client.ends()


async def test_an_app_close_waits_for_the_client_close(client: RawClient, room: Any) -> None:
    """The endpoint closes 1008 after too many bad frames; the server then reads the client's close and ends."""
    await client.open_socket(room["id"])
    for _ in range(11):  # one more bad frame than the endpoint forgives
        client.send(client_frame(b"{}"))
    assert (await client.close_code())[0] == 1008
    client.send(client_frame(struct.pack("!H", 1008), CLOSE))
    await client.ends()


async def test_a_frame_arriving_byte_by_byte_is_read(client: RawClient, room: Any) -> None:
    await client.open_socket(room["id"])
    frame = client_frame(JOIN)
    for byte in range(len(frame)):
        client.send(frame[byte : byte + 1])
        await client.writer.drain()
        await asyncio.sleep(0)
    assert (await client.message("welcome"))["room_id"] == room["id"]
