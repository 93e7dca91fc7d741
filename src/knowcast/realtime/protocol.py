"""The wire protocol, version 1 (docs/protocol.md is its reference; keep the two in step).

Client frames are small JSON objects with a ``type``; they are parsed here into typed messages or refused
with a ``protocol.*`` error code. Server frames are compact UTF-8 JSON built by ``encode``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from knowcast.errors import KnowcastError, PayloadTooLarge, RateLimited, ValidationFailed
from knowcast.realtime.errors import RealtimeCode

VERSION = 1
MAX_CLIENT_FRAME = 4096  # bytes of one client text frame
MAX_LIKES_PER_FRAME = 100  # taps a client may report in one "like" frame
MAX_ID_LENGTH = 64  # cid and visitor ids
MAX_TRACK_EVENTS = 50  # analytics events in one "track" frame (the HTTP intake's batch limit)
SESSION_ENDED = 4001  # close code: the sign-in session the socket was opened under has ended; reconnect


@dataclass(frozen=True, slots=True)
class Track:
    """Analytics events of the viewer's page (view start, heartbeats, impressions, clicks), as the HTTP intake
    ``POST /api/v1/analytics/events`` takes them: the analytics domain checks each one (``Hub.track_handler``)."""

    events: tuple[dict[str, Any], ...]
    ack: bool = False  # answer with ``tracked`` even when every event was accepted (else only a refusal is told)


@dataclass(frozen=True, slots=True)
class Join:
    last_seq: int | None = None
    visitor: str | None = None
    track: Track | None = None  # the page's analytics events that waited for the socket: handled once joined


@dataclass(frozen=True, slots=True)
class Chat:
    text: str
    cid: str | None = None


@dataclass(frozen=True, slots=True)
class Like:
    count: int = 1


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


ClientMessage = Join | Chat | Like | Heartbeat | Track


def malformed(message: str, code: str = RealtimeCode.PROTOCOL_MALFORMED) -> ValidationFailed:
    return ValidationFailed(message, code=code)


def parse(raw: str | bytes | None) -> ClientMessage:
    """One client frame → a message, or a ValidationFailed/PayloadTooLarge with a ``protocol.*`` code."""
    if raw is None or isinstance(raw, bytes):
        raise malformed("send JSON text frames, not binary ones", RealtimeCode.PROTOCOL_BINARY_UNSUPPORTED)
    if len(raw) > MAX_CLIENT_FRAME or len(raw.encode()) > MAX_CLIENT_FRAME:
        raise PayloadTooLarge(
            f"a frame may hold at most {MAX_CLIENT_FRAME} bytes", code=RealtimeCode.PROTOCOL_TOO_LARGE
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deep to parse
        raise malformed("the frame is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise malformed('a frame is a JSON object with a "type"')
    kind = data["type"]
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise malformed(f"unknown message type {kind[:32]!r}", RealtimeCode.PROTOCOL_UNKNOWN_TYPE)
    return builder(data)


def _optional_id(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH or not _is_unicode(value):
        raise malformed(f'"{key}" must be a string of 1 to {MAX_ID_LENGTH} characters')
    return value


def _is_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode: JSON's "\\ud800" escapes decode to lone surrogates, which no
    UTF-8 frame can carry."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _join(data: dict[str, Any]) -> Join:
    if data.get("v", VERSION) != VERSION:
        raise malformed(f"this server speaks protocol version {VERSION}", RealtimeCode.PROTOCOL_UNSUPPORTED_VERSION)
    last_seq = data.get("last_seq")
    if last_seq is not None and (not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0):
        raise malformed('"last_seq" must be a non-negative integer')
    track = _track(data) if "events" in data else None
    return Join(last_seq=last_seq, visitor=_optional_id(data, "visitor"), track=track)


def _chat(data: dict[str, Any]) -> Chat:
    text = data.get("text")
    if not isinstance(text, str):
        raise malformed('"text" must be a string')
    if not _is_unicode(text):
        raise malformed('"text" holds a lone surrogate (invalid Unicode)')
    return Chat(text=text, cid=_optional_id(data, "cid"))


def _like(data: dict[str, Any]) -> Like:
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_LIKES_PER_FRAME:
        raise malformed(f'"count" must be an integer from 1 to {MAX_LIKES_PER_FRAME}')
    return Like(count=count)


def _heartbeat(_data: dict[str, Any]) -> Heartbeat:
    return Heartbeat()


def _track(data: dict[str, Any]) -> Track:
    events = data.get("events")
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_TRACK_EVENTS:
        raise malformed(f'"events" must be a list of 1 to {MAX_TRACK_EVENTS} events')
    if not all(isinstance(event, dict) for event in events):
        raise malformed('each of "events" must be a JSON object')
    ack = data.get("ack", False)
    if not isinstance(ack, bool):
        raise malformed('"ack" must be true or false')
    return Track(events=tuple(events), ack=ack)


_BUILDERS: dict[str, Callable[[dict[str, Any]], ClientMessage]] = {
    "join": _join,
    "chat": _chat,
    "like": _like,
    "heartbeat": _heartbeat,
    "track": _track,
}


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def error_message(error: KnowcastError, message: str | None = None) -> dict[str, Any]:
    """A KnowcastError as a server ``error`` frame (the WebSocket side of errors.py's mapping)."""
    body: dict[str, Any] = {"type": "error", "code": error.code, "message": message or error.message}
    if error.fields:
        body["fields"] = error.fields
    if isinstance(error, RateLimited):
        body["retry_after"] = error.retry_after
    return body
