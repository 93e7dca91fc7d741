"""The live endpoint's own WebSocket server protocol (RFC 6455), taking over the connection at the upgrade.

A join storm is ten thousand handshakes in seconds, and through uvicorn's websockets protocol each one
rebuilt the request bytes for the websockets library to parse again in Python, then built its Request,
Response and Headers objects; every client frame went through generator-based parsing (issue #16). Here
the HTTP parser's headers are checked in place (realtime/handshake.py), the 101 answer is one joined
bytes, and client frames are read by a plain loop (realtime/client_frames.py).

To the app it is uvicorn's: the same ASGI scope and messages, the task tracked in the server's state and
the protocol in its connections, so a graceful shutdown closes the socket with 1012. ``receive`` is a bound
method of this object, which holds ``transport``: realtime/frames.transport_of finds the socket that way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from uvicorn.protocols.utils import ClientDisconnected

from knowcast.realtime import frames, handshake
from knowcast.realtime.client_frames import BINARY, CLOSE, PING, PONG, TEXT, FrameReader, Violation, close_status

log = logging.getLogger("uvicorn.error")
Headers = list[tuple[bytes, bytes]]
Message = dict[str, Any]
CONNECTING, OPEN, CLOSING, CLOSED = range(4)
CLOSE_TIMEOUT = 5.0  # seconds a closing socket waits for the client's close frame
PAUSE_AT = 4  # unread messages at which reading stops until the app has taken them all


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The upgrade request as the HTTP protocol parsed it (header names lowercase)."""

    method: bytes
    http_version: str
    raw_path: bytes
    query: bytes
    headers: Headers
    server: tuple[str, int | None] | None
    client: tuple[str, int] | None
    secure: bool
    root_path: str = ""
    at: float = 0.0  # time.perf_counter() when its headers were read (the join's timing starts there); 0: unknown

    @property
    def path(self) -> str:
        """The path the ASGI scope carries, which the app routes on."""
        return self.root_path + unquote(self.raw_path.decode("ascii", "replace"))


class LiveSocketProtocol(asyncio.Protocol):
    """One live socket from its handshake to its close; the app sees uvicorn's ASGI WebSocket."""

    __slots__ = (
        "app",
        "app_closed",
        "app_state",
        "asgi_version",
        "close_timer",
        "denial",
        "early",
        "ended",
        "inbox",
        "key",
        "loop",
        "lost",
        "read_paused",
        "reader",
        "scope",
        "server_state",
        "state",
        "transport",
        "upgrade",
        "waiter",
        "writable",
    )

    def __init__(self, upgrade: Upgrade, config: Any, server_state: Any, app_state: dict[str, Any]) -> None:
        self.upgrade = upgrade
        self.app = config.loaded_app
        self.asgi_version: str = config.asgi_version
        self.server_state = server_state
        self.app_state = app_state
        self.loop = asyncio.get_running_loop()
        self.reader = FrameReader(config.ws_max_size)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.state = CONNECTING
        self.key = b""
        self.scope: Message = {}
        self.inbox: deque[Message] = deque()
        self.waiter: asyncio.Future[None] | None = None  # the app awaiting receive()
        self.ended: Message | None = None  # the disconnect message, once the socket is over for the app
        self.early = b""  # client bytes before the 101 answer, read once it is written
        self.denial: tuple[int, Headers, list[bytes]] | None = None  # the app's HTTP answer being sent
        self.read_paused = False
        self.writable: asyncio.Future[None] | None = None  # set while the transport's buffer is full
        self.close_timer: asyncio.TimerHandle | None = None
        self.app_closed = False
        self.lost = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)
        try:
            self.key = handshake.check(self.upgrade.method, self.upgrade.http_version, self.upgrade.headers)
        except handshake.Refused as refused:
            self.state = CLOSED
            self.transport.write(refused.answer(self.server_state.default_headers))
            self.transport.close()
            return
        self.scope = self.make_scope()
        self.inbox.append({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.server_state.tasks.discard)
        self.server_state.tasks.add(task)

    def data_received(self, data: bytes) -> None:
        if self.state == OPEN or self.state == CLOSING:
            self.read(data)
        elif self.state == CONNECTING:
            self.early += data
            if len(self.early) > self.reader.max_size:  # a client may not send before the 101 answer
                self.pause_reading()

    def eof_received(self) -> None:
        return None  # the transport closes itself: a client that stopped sending is gone

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server_state.connections.discard(self)
        self.end(1005 if self.state != CONNECTING and self.denial is None else 1006)
        self.state = CLOSED
        self.cancel_close_timer()
        self.resume_writing()
        if exc is None:
            self.transport.close()

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.writable is not None:
            if not self.writable.done():
                self.writable.set_result(None)
            self.writable = None

    def shutdown(self) -> None:
        """Called by uvicorn on a graceful shutdown: an open socket is closed with 1012 (server restarting)."""
        if self.state == OPEN:
            self.end(1012)
            self.transport.write(frames.close_frame(1012))
        elif self.state == CONNECTING:
            self.answer_500()
        self.state = CLOSED
        self.cancel_close_timer()
        self.transport.close()

    # client frames

    def read(self, data: bytes) -> None:
        try:
            for opcode, payload in self.reader.feed(data):
                if opcode == TEXT:
                    self.deliver({"type": "websocket.receive", "text": payload})
                elif opcode == BINARY:
                    self.deliver({"type": "websocket.receive", "bytes": payload})
                elif opcode == PING:
                    if self.state == OPEN:
                        self.transport.write(frames.frame(payload, PONG))  # type: ignore[arg-type]
                elif opcode == CLOSE:
                    self.closed_by_client(payload)  # type: ignore[arg-type]
                    return
        except Violation as violation:
            self.fail(violation)

    def deliver(self, message: Message) -> None:
        if self.state != OPEN:
            return  # the app has closed: what the client still sends before its close frame is dropped
        self.inbox.append(message)
        self.wake()
        if len(self.inbox) >= PAUSE_AT:
            self.pause_reading()

    def closed_by_client(self, payload: bytes) -> None:
        code, reason = close_status(payload)
        if self.state == OPEN:
            self.end(code, reason)
            self.transport.write(frames.frame(payload, frames.CLOSE))  # the same code back (RFC 6455 §5.5.1)
        self.state = CLOSED
        self.cancel_close_timer()
        self.transport.close()

    def fail(self, violation: Violation) -> None:
        """End the socket for a protocol violation: our close frame, then no more writes; what the client
        still sends is read and dropped until it closes (a close with unread bytes would reset the
        connection, and the client might never see why)."""
        if self.state == OPEN:
            self.end(violation.code, violation.reason)
            self.transport.write(frames.close_frame(violation.code, violation.reason))
        self.state = CLOSED  # from here on, what arrives is dropped
        self.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self.close_timer is None:
            self.close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.transport.close)

    # the app's side (ASGI)

    async def run_asgi(self) -> None:
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            log.exception("Exception in ASGI application\n")
            self.answer_500()
        else:
            if self.state == CONNECTING and self.denial is None:
                log.error("ASGI callable returned without completing handshake.")
                self.answer_500()
            elif result is not None:
                log.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None:
            self.transport.close()

    async def receive(self) -> Message:
        while not self.inbox:
            if self.ended is not None:
                return self.ended
            if self.waiter is not None:
                raise RuntimeError("receive() is already being awaited on this WebSocket")
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        message = self.inbox.popleft()
        if self.read_paused and not self.inbox:
            self.resume_reading()
        return message

    async def send(self, message: Message) -> None:
        if self.writable is not None:
            await asyncio.shield(self.writable)
        if self.lost:
            raise ClientDisconnected()
        if self.state == CONNECTING:
            self.send_before_accept(message)
        elif self.state == OPEN:
            self.send_open(message)
        elif self.app_closed:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}', after sending 'websocket.close'.")
        else:
            raise ClientDisconnected()

    def send_before_accept(self, message: Message) -> None:
        kind = message["type"]
        if self.denial is not None:
            self.send_denial_body(message)
        elif kind == "websocket.accept":
            self.accept(message)
        elif kind == "websocket.close":
            self.log_answer("403")
            self.end(1006)
            self.app_closed = True
            self.answer(handshake.http_answer(403, self.server_state.default_headers, b""))
        elif kind == "websocket.http.response.start":
            status = message["status"]
            if not 100 <= status < 600:
                raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
            self.log_answer(str(status))
            self.denial = (status, list(message.get("headers", [])), [])
        else:
            raise RuntimeError(
                "Expected ASGI message 'websocket.accept', 'websocket.close' "
                f"or 'websocket.http.response.start' but got '{kind}'."
            )

    def accept(self, message: Message) -> None:
        self.log_answer("[accepted]")
        headers = list(message.get("headers", []))
        if message.get("subprotocol"):
            headers.append((b"sec-websocket-protocol", message["subprotocol"].encode()))
        if self.transport.is_closing():
            return
        self.state = OPEN
        self.transport.write(handshake.switching(self.key, self.server_state.default_headers, headers))
        if self.early:
            early, self.early = self.early, b""
            self.resume_reading()
            self.read(early)

    def send_denial_body(self, message: Message) -> None:
        if message["type"] != "websocket.http.response.body":
            raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{message['type']}'.")
        status, headers, body = self.denial  # type: ignore[misc]
        body.append(message.get("body", b""))
        if not message.get("more_body", False):
            self.end(1006)
            self.app_closed = True
            self.answer(handshake.http_answer(status, headers + self.server_state.default_headers, b"".join(body)))

    def send_open(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            if message.get("bytes") is not None:
                self.transport.write(frames.frame(message["bytes"], BINARY))
            elif message.get("text") is not None:
                self.transport.write(frames.frame(message["text"].encode()))
            else:
                raise RuntimeError("a 'websocket.send' message needs 'text' or 'bytes'")
        elif kind == "websocket.close":
            code, reason = message.get("code", 1000), message.get("reason") or ""
            self.end(code, reason)
            self.transport.write(frames.close_frame(code, reason))
            self.state = CLOSING
            self.app_closed = True
            self.resume_reading()  # the client's close frame must still be read
            self.close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.transport.close)
        else:
            raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'.")

    # helpers

    def make_scope(self) -> Message:
        upgrade = self.upgrade
        return {
            "type": "websocket",
            "asgi": {"version": self.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss" if upgrade.secure else "ws",
            "server": upgrade.server,
            "client": upgrade.client,
            "root_path": upgrade.root_path,
            "path": upgrade.path,
            "raw_path": upgrade.root_path.encode("ascii") + upgrade.raw_path,
            "query_string": upgrade.query,
            "headers": upgrade.headers,
            "subprotocols": [
                token.decode("latin-1") for token in handshake.tokens(upgrade.headers, b"sec-websocket-protocol")
            ],
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}, "knowcast.upgrade": {"at": upgrade.at}},
        }

    def end(self, code: int, reason: str = "") -> None:
        """The socket is over for the app: receive() answers this disconnect once the inbox is read."""
        if self.ended is None:
            self.ended = {"type": "websocket.disconnect", "code": code, "reason": reason}
            self.wake()

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def answer(self, response: bytes) -> None:
        """An HTTP answer instead of the 101, ending the connection."""
        self.state = CLOSED
        self.transport.write(response)
        self.transport.close()

    def answer_500(self) -> None:
        if self.state == CONNECTING and self.denial is None:
            self.end(1006)
            self.answer(handshake.http_answer(500, self.server_state.default_headers, b"Internal Server Error"))

    def log_answer(self, outcome: str) -> None:
        if log.isEnabledFor(logging.INFO):
            client = self.upgrade.client
            where = f"{client[0]}:{client[1]}" if client else ""
            query = "?" + self.upgrade.query.decode("ascii", "replace") if self.upgrade.query else ""
            log.info('%s - "WebSocket %s%s" %s', where, self.upgrade.path, query, outcome)

    def pause_reading(self) -> None:
        if not self.read_paused and not self.transport.is_closing():
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()

    def cancel_close_timer(self) -> None:
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
