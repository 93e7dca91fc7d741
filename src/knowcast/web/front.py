"""The server's HTTP protocol: uvicorn's, with answers the app knows by heart given in the parser's callback.

A crowd opening a room asks for the same few things thousands of times a second, and most of them (the
hashed static files, the room page of an anonymous viewer once rendered) are bytes in memory. Through ASGI
each costs a request scope, a response cycle with its event, a task and the middleware chain around two
``send`` calls; here the parser's ``on_headers_complete`` asks the app's ``instant`` answerers and, when one
knows the answer, writes it at once. Anything else, and any request while an earlier one on the connection is
still being answered (pipelining keeps its order), goes through uvicorn's cycle as before.

A WebSocket upgrade to the live endpoint is handed, with the headers already parsed, to Knowcast's own
protocol (realtime/socket_protocol.py); other upgrades go to uvicorn's WebSocket protocol as before.

An answerer is a plain function of the request (method, path, query, headers) returning the response's status,
headers and body, or None; it must not await and must do what the route would (the same headers, counted in
the same metrics): tests/web/test_front.py compares both ways.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httptools
from uvicorn.logging import TRACE_LOG_LEVEL
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl

from knowcast.realtime.routes import PATH as LIVE_PATH
from knowcast.realtime.serving import UVICORN_WS_OPTIONS
from knowcast.realtime.socket_protocol import LiveSocketProtocol, Upgrade

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Request:
    """What an instant answer may read: no body (only GET and HEAD come this way)."""

    method: bytes
    path: bytes
    query: bytes
    headers: Headers


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Headers
    body: bytes = b""


Answerer = Callable[[Request], Answer | None]


@dataclass
class Instant:
    """The app's instant answerers, asked in order (held by the app: ``KnowcastApp.instant``)."""

    answerers: list[Answerer] = field(default_factory=list)

    def answer(self, request: Request) -> Answer | None:
        for answerer in self.answerers:
            answer = answerer(request)
            if answer is not None:
                return answer
        return None


class _Answered:
    """Stands in for uvicorn's response cycle after an instant answer: complete from the start."""

    __slots__ = ()
    response_complete = True
    disconnected = False
    keep_alive = True

    class message_event:  # uvicorn calls ``cycle.message_event.set()`` when the connection ends
        @staticmethod
        def set() -> None:
            return None


ANSWERED: Any = _Answered()


def instant_of(app: Any) -> Instant | None:
    """The ``Instant`` of the app uvicorn serves (through the middlewares uvicorn may have wrapped it in)."""
    for _ in range(8):
        found = getattr(app, "instant", None)
        if isinstance(found, Instant):
            return found
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


_UNKNOWN: Any = object()


class FrontProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering the app's instant requests in the parser's callback.

    The connection's two addresses are looked up when first read (a request through the app, the live socket's
    handshake), not when it opens: two system calls and a socket object each that an instant answer never uses
    (≈ 5 % of a join storm's server CPU, three connections a viewer)."""

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.instant: Instant | None = instant_of(self.app)

    def connection_made(self, transport: Any) -> None:
        """uvicorn's, but for the addresses (see the class)."""
        self.connections.add(self)
        self.transport = transport
        self.flow = FlowControl(transport)
        self._server = self._client = _UNKNOWN
        self.scheme = "https" if is_ssl(transport) else "http"
        if self.logger.level <= TRACE_LOG_LEVEL:
            self.logger.log(TRACE_LOG_LEVEL, "%s - HTTP connection made", self.client)

    @property
    def server(self) -> tuple[str, int | None] | None:
        if self._server is _UNKNOWN:
            self._server = get_local_addr(self.transport)
        return self._server  # type: ignore[no-any-return]

    @server.setter
    def server(self, value: tuple[str, int | None] | None) -> None:
        self._server = value

    @property
    def client(self) -> tuple[str, int] | None:
        if self._client is _UNKNOWN:
            self._client = get_remote_addr(self.transport)
        return self._client  # type: ignore[no-any-return]

    @client.setter
    def client(self, value: tuple[str, int] | None) -> None:
        self._client = value

    def data_received(self, data: bytes) -> None:
        """uvicorn's, except that the live endpoint's upgrade goes to LiveSocketProtocol with the bytes the
        client sent after its headers (the parser's upgrade exception says where they start)."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade as upgrade:
            if not self._should_upgrade():
                self._unsupported_upgrade_warning()
            elif not self._upgrade_live(data[upgrade.args[0] :]):
                self.handle_websocket_upgrade()

    def _upgrade_live(self, rest: bytes) -> bool:
        url = httptools.parse_url(self.url)
        upgrade = Upgrade(
            method=self.parser.get_method(),
            http_version=self.parser.get_http_version(),
            raw_path=url.path,
            query=url.query or b"",
            headers=self.headers,
            server=self.server,
            client=self.client,
            secure=self.scheme == "https",
            root_path=self.root_path,
            at=time.perf_counter(),
        )
        if LIVE_PATH.fullmatch(upgrade.path) is None:
            return False
        self.connections.discard(self)
        protocol = LiveSocketProtocol(upgrade, self.config, self.server_state, self.app_state)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if rest:
            protocol.data_received(rest)
        return True

    def on_headers_complete(self) -> None:
        if self.instant is not None and self._answer_now():
            return
        super().on_headers_complete()

    def _answer_now(self) -> bool:
        method = self.parser.get_method()
        if method not in (b"GET", b"HEAD") or self.pipeline or self.parser.should_upgrade():
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False
        url = httptools.parse_url(self.url)
        answer = self.instant.answer(Request(method, url.path, url.query or b"", self.headers))  # type: ignore[union-attr]
        if answer is None:
            return False
        keep_alive = self.parser.get_http_version() == "1.1" and self.parser.should_keep_alive()
        self.cycle = ANSWERED
        self.transport.write(self._encode(answer, method == b"HEAD", keep_alive))
        if keep_alive:
            self.on_response_complete()
        else:
            self.server_state.total_requests += 1
            self.transport.close()
        return True

    def _encode(self, answer: Answer, head: bool, keep_alive: bool) -> bytes:
        parts = [STATUS_LINE[answer.status]]
        for name, value in self.server_state.default_headers:
            parts += [name, b": ", value, b"\r\n"]
        for name, value in answer.headers:
            parts += [name, b": ", value, b"\r\n"]
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        if not head:
            parts.append(answer.body)
        return b"".join(parts)


def server_options() -> dict[str, Any]:
    """uvicorn's options for serving the app (`knowcast serve`, and the tests that serve it on a real socket).

    The loop is uvloop whose listening socket is emptied each turn (web/listening.py); it applies where uvicorn
    makes the loop (``uvicorn.run``), not to a server started inside a loop that already runs."""
    return {"http": FrontProtocol, "loop": "knowcast.web.listening:Loop", **UVICORN_WS_OPTIONS}
