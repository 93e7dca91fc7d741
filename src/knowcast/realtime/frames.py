"""WebSocket frames written straight to the socket.

The hub encodes each tick's frame once and hands the same bytes to every viewer's transport, so a delivery
costs one ``transport.write`` and no per-recipient task. Server frames are never masked (RFC 6455 §5.1).
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

TEXT = 0x1
CLOSE = 0x8
FIN = 0x80


class Transport(Protocol):
    """The part of an asyncio transport that the hub uses."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...

    def abort(self) -> None: ...


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One complete, unmasked WebSocket frame around ``payload``."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", FIN | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", FIN | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", FIN | opcode, 127, size)
    return header + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(struct.pack("!H", code) + reason.encode()[:120], CLOSE)


def transport_of(receive: Any) -> Transport | None:
    """The socket under an ASGI WebSocket, found through the server's protocol object.

    uvicorn passes its protocol's bound ``receive`` method as the ASGI ``receive`` callable, and that
    protocol owns the transport. Other servers may not: the endpoint then refuses the socket with 1011.
    """
    owner = getattr(receive, "__self__", None)
    transport = getattr(owner, "transport", None)
    needed = ("write", "get_write_buffer_size", "is_closing", "abort")
    if transport is None or not all(hasattr(transport, name) for name in needed):
        return None
    return transport  # type: ignore[no-any-return]
