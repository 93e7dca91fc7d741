"""What every fast path shares: the framework's own pieces, on raw ASGI.

A fast path (commerce/fastpath.py, commerce/snapshot_path.py, analytics/intake_path.py, web/room_page.py) is a
plain ASGI handler ahead of the app for one request that comes by the thousand. It skips the middleware stack,
routing and dependency injection, so it must do for itself what they would, and do it with the same pieces:
errors are answered by ``errors.json_response`` (the exception handlers' own function), cookies are read by
Starlette's ``cookie_parser``, the CSRF token is checked by ``csrf.check``, the security headers are
``middleware.security_headers``. tests/test_fast_paths.py sends the same requests through each fast path and
through the route behind it and compares the answers.

``FastPaths`` is the app's switch (``Settings.fast_paths``; provided on the context by create_app): off, every
fast path hands each request on to the route — to rule them out when something looks wrong, and for the test.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import cookie_parser
from starlette.types import Receive, Send

from knowcast.errors import KnowcastError, PayloadTooLarge, json_response
from knowcast.middleware import security_headers
from knowcast.settings import Settings

RawHeaders = list[tuple[bytes, bytes]]


@dataclass
class FastPaths:
    """Whether the fast paths answer (on) or hand every request to the routes (off)."""

    on: bool = True


class RequestIds:
    """Request ids as unique as ``token_hex(8)`` within a process, without a system call each: a random
    per-process prefix and a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count()

    def next(self) -> bytes:
        return f"{self._prefix}{next(self._count):08x}".encode()

    def of(self, headers: Mapping[bytes, bytes]) -> bytes:
        """The client's X-Request-Id (its first 64 bytes, as the request context middleware keeps), else a new one."""
        return headers.get(b"x-request-id", b"")[:64] or self.next()


def raw_security_headers(settings: Settings) -> RawHeaders:
    """The request context middleware's security headers for this app, as raw ASGI headers."""
    media_origin = settings.download_url.rstrip("/")
    headers = security_headers(media_origin, settings.janus_browser_origin)
    return [(name.encode(), value.encode()) for name, value in headers.items()]


def json_headers(body: bytes) -> RawHeaders:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]


def cookies(headers: Mapping[bytes, bytes]) -> dict[str, str]:
    """The request's cookies as Starlette's Request reads them (``request.cookies``)."""
    header = headers.get(b"cookie")
    return cookie_parser(header.decode("latin-1")) if header else {}


def error_answer(error: KnowcastError) -> tuple[int, bytes, RawHeaders]:
    """Status, body and headers of the app's own answer to ``error`` (``errors.json_response``)."""
    response = json_response(error)
    return response.status_code, bytes(response.body), list(response.raw_headers)


async def send_answer(send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body; PayloadTooLarge once it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
