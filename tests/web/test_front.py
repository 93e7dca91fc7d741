"""The front protocol (web/front.py): what the app knows by heart is answered in the parser's callback, with the
same bytes the app would send through ASGI, over a real socket to a real uvicorn.

Each test serves the app twice over: with the front protocol (as `knowcast serve` does) and with uvicorn's own
httptools protocol (every request through the app), and compares raw answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from knowcast.web.assets import Manifest
from knowcast.web.front import FrontProtocol
from knowcast.web.templating import STATIC_DIR
from tests.realtime.harness import serve


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
