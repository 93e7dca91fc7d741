"""The opening handshake of the live socket (RFC 6455 §4.2), checked on headers the HTTP parser already read.

A browser's handshake is a GET with ``Upgrade: websocket``, ``Connection: upgrade``, version 13 and a key of
16 random bytes in base64. We offer no extension (no permessage-deflate, see realtime/serving.py) and choose
no subprotocol. A handshake we cannot speak is answered 426 (another version) or 400 (anything else).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

Headers = list[tuple[bytes, bytes]]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Refused(Exception):
    """The handshake is answered with an HTTP error instead of 101."""

    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []

    def answer(self, default_headers: Headers) -> bytes:
        body = f"Failed to open a WebSocket connection: {self.message}.\n".encode()
        return http_answer(self.status, default_headers + self.headers, body)


def accept_key(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key + GUID, usedforsecurity=False).digest())


def check(method: bytes, http_version: str, headers: Headers) -> bytes:
    """The ``Sec-WebSocket-Accept`` value of a valid handshake; raises Refused otherwise."""
    if method != b"GET" or http_version != "1.1":
        raise Refused(400, "the handshake is an HTTP/1.1 GET")
    if b"upgrade" not in tokens(headers, b"connection"):
        raise Refused(400, "missing Connection: upgrade")
    if tokens(headers, b"upgrade") != [b"websocket"]:
        raise Refused(400, "missing Upgrade: websocket")
    if values(headers, b"sec-websocket-version") != [b"13"]:
        raise Refused(426, "only WebSocket version 13 is supported", [(b"sec-websocket-version", b"13")])
    keys = values(headers, b"sec-websocket-key")
    if len(keys) != 1 or not is_key(keys[0]):
        raise Refused(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    return accept_key(keys[0])


def values(headers: Headers, name: bytes) -> list[bytes]:
    return [value for key, value in headers if key == name]


def tokens(headers: Headers, name: bytes) -> list[bytes]:
    """The comma-separated tokens of every ``name`` header, lowercased."""
    return [token.strip().lower() for value in values(headers, name) for token in value.split(b",") if token.strip()]


def is_key(key: bytes) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def switching(accept: bytes, default_headers: Headers, headers: Headers) -> bytes:
    """The 101 answer that opens the socket."""
    parts = [STATUS_LINE[101], b"upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ", accept, b"\r\n"]
    for name, value in default_headers + headers:
        parts += [name, b": ", value, b"\r\n"]
    parts.append(b"\r\n")
    return b"".join(parts)


def http_answer(status: int, headers: Headers, body: bytes) -> bytes:
    """An HTTP answer that ends the connection (a refused handshake, or the app's denial response)."""
    names = {name.lower() for name, _ in headers}
    parts = [STATUS_LINE[status]]
    for name, value in headers:
        parts += [name, b": ", value, b"\r\n"]
    for name, value in (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ):
        if name not in names:
            parts += [name, b": ", value, b"\r\n"]
    parts += [b"\r\n", body]
    return b"".join(parts)
