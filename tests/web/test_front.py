"""The front protocol (web/front.py): what the app knows by heart is answered in the parser's callback, with the
same bytes the app would send through ASGI, over a real socket to a real uvicorn.

Each test serves the app twice over: with the front protocol (as `knowcast serve` does) and with uvicorn's own
httptools protocol (every request through the app), and compares raw answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from knowcast import csrf
from knowcast.accounts.models import Role
from knowcast.web.assets import Manifest
from knowcast.web.front import FrontProtocol, Request
from knowcast.web.templating import STATIC_DIR
from tests.conftest import SECRET
from tests.realtime.harness import serve, token_of


@pytest.fixture
async def served(app: Any) -> AsyncIterator[dict[str, int]]:
    """The app on two ports: ``front`` with FrontProtocol, ``plain`` with uvicorn's httptools protocol."""
    servers = {name: serve(app, http=http) for name, http in (("front", FrontProtocol), ("plain", "httptools"))}
    ports = {}
    for name, server in servers.items():
        live = await anext(server)
        ports[name] = int(live.base.rsplit(":", 1)[1])
    yield ports
    for server in servers.values():
        await server.aclose()


async def exchange(port: int, raw: bytes, until_closed: bool = False) -> bytes:
    """Send ``raw`` and read one whole answer (or everything until the server closes)."""
    answers = await exchange_many(port, raw, 1, until_closed)
    return answers[0]


async def exchange_many(port: int, raw: bytes, answers: int, until_closed: bool = False) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    try:
        if until_closed:
            return [await asyncio.wait_for(reader.read(-1), 10)]
        out = []
        for _ in range(answers):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            body = b"" if head.startswith(b"HTTP/1.1 304") or b"HEAD" in raw[:4] else await reader.readexactly(length)
            out.append(head + body)
        return out
    finally:
        writer.close()


def without_date(answer: bytes) -> list[bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
    return [*lines, body]


def get(path: str, *extra: str, method: str = "GET", version: str = "1.1") -> bytes:
    headers = "".join(f"{line}\r\n" for line in extra)
    return f"{method} {path} HTTP/{version}\r\nHost: test\r\n{headers}\r\n".encode()


SCRIPT = Manifest(STATIC_DIR).url("dist/room_page.js")


@pytest.mark.parametrize(
    "request_bytes",
    [
        get(SCRIPT, "Accept-Encoding: gzip, deflate, br"),
        get(SCRIPT, "Accept-Encoding: gzip"),
        get(SCRIPT),
        get(SCRIPT, "Accept-Encoding: br", method="HEAD"),
        get(SCRIPT, 'If-None-Match: "' + SCRIPT.rsplit("/", 1)[1] + '"'),
        get(SCRIPT + "?v=1", "Accept-Encoding: br"),
    ],
    ids=["brotli", "gzip", "identity", "head", "not-modified", "query"],
)
async def test_a_static_file_is_the_same_answer_both_ways(served: dict[str, int], request_bytes: bytes) -> None:
    front = await exchange(served["front"], request_bytes)
    plain = await exchange(served["plain"], request_bytes)
    assert front.startswith((b"HTTP/1.1 200", b"HTTP/1.1 304"))
    assert without_date(front) == without_date(plain)


async def test_pipelined_requests_keep_their_order(served: dict[str, int]) -> None:
    """A request the app answers (a 404) followed on the same connection by one answered in the callback: the
    second waits for the first, as HTTP/1.1 requires."""
    raw = get("/static/dist/no-such-00000000.js") + get(SCRIPT, "Accept-Encoding: br") + get("/healthz")
    answers = await exchange_many(served["front"], raw, 3)
    assert [answer.split(b"\r\n")[0] for answer in answers] == [
        b"HTTP/1.1 404 Not Found",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK",
    ]
    assert b"content-encoding: br" in answers[1] and b'"status":"ok"' in answers[2].replace(b" ", b"")


@pytest.mark.parametrize(
    "request_bytes",
    [get(SCRIPT, "Connection: close", "Accept-Encoding: br"), get(SCRIPT, "Accept-Encoding: br", version="1.0")],
    ids=["connection-close", "http-1.0"],
)
async def test_a_client_that_does_not_keep_the_connection_is_answered_and_closed(
    served: dict[str, int], request_bytes: bytes
) -> None:
    front = await exchange(served["front"], request_bytes, until_closed=True)
    plain = await exchange(served["plain"], request_bytes, until_closed=True)
    assert front.startswith(b"HTTP/1.1 200") and b"connection: close" in front.lower()
    assert without_date(front)[-1] == without_date(plain)[-1]  # the same body, and the server closed after it


async def test_what_the_app_does_not_know_by_heart_goes_through_it(served: dict[str, int]) -> None:
    for request_bytes in (get("/healthz"), get("/static/dist/no-such-00000000.js"), get(SCRIPT, method="POST")):
        front = await exchange(served["front"], request_bytes)
        plain = await exchange(served["plain"], request_bytes)
        assert front.split(b"\r\n")[0] == plain.split(b"\r\n")[0]


async def test_an_anonymous_room_page_is_answered_in_the_callback_once_rendered(
    app: Any, served: dict[str, int], make_user: Any
) -> None:
    """A crowd's anonymous viewers get the rendered page with their CSRF token from the parser's callback: the same
    bytes the app sends (but for the request id); a signed-in viewer's, and the first render, go through the app."""
    host = await make_user(Role.HOST)
    body = {"title": "万人直播间", "scheduled_at": "2030-01-01T10:00:00Z"}
    room_id = (await host.client.post("/api/v1/rooms", json=body)).json()["id"]
    pages = app.state.room_pages
    anonymous = get(f"/rooms/{room_id}", "Cookie: kc_csrf=abc; kc_consent=analytics", "Accept-Language: zh-CN")
    request = Request(b"GET", f"/rooms/{room_id}".encode(), b"", [(b"cookie", b"kc_csrf=abc; kc_consent=analytics")])
    assert pages.instant(request) is None  # not rendered yet: the app renders it
    plain = await exchange(served["plain"], anonymous)
    renders = pages.renders
    front = await exchange(served["front"], anonymous)
    answer = pages.instant(request)
    assert answer is not None and answer.status == 200 and pages.renders == renders
    assert without_ids(front) == without_ids(plain) and front.startswith(b"HTTP/1.1 200")
    assert b'content="' + csrf.token_for(SECRET, "abc").encode() + b'"' in front
    fresh = pages.instant(Request(b"GET", request.path, b"", [(b"cookie", b"kc_consent=analytics")]))
    assert fresh is not None and any(name == b"set-cookie" for name, _ in fresh.headers)  # a new browser's nonce
    signed_in = Request(request.method, request.path, b"", [(b"cookie", f"kc_session={token_of(host)}".encode())])
    assert pages.instant(signed_in) is None  # the nickname and role: the app's batched session lookup
    assert pages.instant(Request(b"GET", f"/rooms/{room_id}".encode(), b"x=1", [])) is None


def without_ids(answer: bytes) -> list[bytes]:
    return [line for line in without_date(answer) if not line.lower().startswith(b"x-request-id:")]


class _Socket:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def getsockname(self) -> tuple[str, int]:
        self.asked.append("local")
        return ("127.0.0.1", 8000)

    def getpeername(self) -> tuple[str, int]:
        self.asked.append("remote")
        return ("203.0.113.9", 51234)


class _Transport(asyncio.Transport):
    def __init__(self, sock: _Socket) -> None:
        super().__init__()
        self.sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default


async def test_the_connections_addresses_are_looked_up_when_first_read(app: Any) -> None:
    """Not when the connection opens: an instant answer never reads them; a request through the app does."""
    protocol = FrontProtocol(Config(app=app), ServerState(), {})
    sock = _Socket()
    protocol.connection_made(_Transport(sock))
    assert sock.asked == []
    assert protocol.client == ("203.0.113.9", 51234) and protocol.server == ("127.0.0.1", 8000)
    assert protocol.client == ("203.0.113.9", 51234)
    assert sock.asked == ["remote", "local"]
    protocol.connections.discard(protocol)
