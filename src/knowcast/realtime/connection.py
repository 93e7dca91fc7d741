"""One viewer's socket as the hub sees it: who they are and a non-blocking write with a bound."""

from __future__ import annotations

import itertools
import time
from typing import Any

from knowcast.realtime import frames, protocol

_ids = itertools.count(1)


class Connection:
    """A joined viewer. ``write`` never waits: a viewer whose unsent bytes pass ``buffer_limit`` is cut off
    (they can reconnect and resume), so one slow phone never holds up a room of ten thousand."""

    __slots__ = (
        "badge",
        "buffer_limit",
        "can_moderate",
        "closed",
        "extra",
        "id",
        "key",
        "last_heartbeat",
        "locale",
        "name",
        "room_id",
        "sent_seq",
        "transport",
        "user_id",
    )

    def __init__(
        self,
        transport: frames.Transport,
        *,
        room_id: int,
        user_id: int | None = None,
        name: str | None = None,
        locale: str = "zh-CN",
        buffer_limit: int = 262_144,
    ) -> None:
        self.id = next(_ids)
        self.transport = transport
        self.room_id = room_id
        self.user_id = user_id
        self.name = name
        self.locale = locale
        self.buffer_limit = buffer_limit
        self.badge: str | None = None  # "host", "mod" or "guest": shown beside their chat lines
        self.can_moderate = False
        self.key = f"u{user_id}" if user_id is not None else f"c{self.id}"  # presence identity
        self.last_heartbeat = time.monotonic()
        self.closed = False
        self.sent_seq = 0  # the room's frames up to this sequence number have been written to this socket
        self.extra: dict[str, Any] = {}

    def write(self, frame: bytes) -> bool:
        """Queue one encoded frame; False (and the socket aborted) when this viewer has fallen behind."""
        if self.closed:
            return False
        transport = self.transport
        if transport.is_closing() or transport.get_write_buffer_size() > self.buffer_limit:
            self.abort()
            return False
        transport.write(frame)
        return True

    def send(self, message: dict[str, Any]) -> bool:
        return self.write(frames.frame(protocol.encode(message)))

    def close(self, code: int, reason: str = "") -> None:
        """Send a close frame; nothing more is written after it (the client answers, and the socket ends)."""
        self.write(frames.close_frame(code, reason))
        self.closed = True

    def abort(self) -> None:
        self.closed = True
        self.transport.abort()
