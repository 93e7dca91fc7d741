"""What a browser sends on the live socket, read from bytes into whole messages (RFC 6455 §5).

The server half of the framing: client frames are masked, carry no extension bits (we negotiate none),
and control frames are short and whole. Data frames are assembled into messages up to ``max_size`` bytes.
Anything else is a ``Violation`` carrying the close code the socket must end with.
"""

from __future__ import annotations

from collections.abc import Iterator

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODES = frozenset((CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG))
NO_STATUS = 1005  # a close frame without a code (RFC 6455 §7.1.5); never sent in a close frame itself
SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))

Event = tuple[int, bytes | str]
"""(TEXT, str) or (BINARY, bytes) for a whole message; (CLOSE | PING | PONG, payload) for a control frame."""


class Violation(Exception):
    """The client broke the protocol: the socket ends with ``code`` (1002, 1007 or 1009)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def unmask_in_python(payload: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte mask repeated, as one big-integer operation."""
    size = len(payload)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


try:  # the websockets library's C unmasking, several times faster than the fallback above
    from websockets.speedups import apply_mask as unmask
except ImportError:  # pragma: no cover - websockets ships wheels with it on every platform we run
    unmask = unmask_in_python  # type: ignore[assignment]  # same signature, other parameter name


def close_status(payload: bytes) -> tuple[int, str]:
    """The code and reason of a client's close frame (NO_STATUS when it carries none)."""
    if not payload:
        return NO_STATUS, ""
    code = int.from_bytes(payload[:2], "big")
    if len(payload) < 2 or not (code in SENDABLE_CODES or 3000 <= code < 5000):
        raise Violation(1002, "invalid close code")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise Violation(1007, "invalid UTF-8 in the close reason") from None


class FrameReader:
    """Client bytes in, events out; keeps a partial frame and a fragmented message between reads."""

    __slots__ = ("buffer", "max_size", "message_size", "opcode", "parts")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.buffer = b""
        self.opcode: int | None = None  # the opcode of the fragmented message being assembled
        self.parts: list[bytes] = []
        self.message_size = 0

    def feed(self, data: bytes) -> Iterator[Event]:
        """The events that ``data`` completes, in order; raises Violation at the first bad frame."""
        buffer = self.buffer + data if self.buffer else data
        offset, end = 0, len(buffer)
        while end - offset >= 2:
            head, second = buffer[offset], buffer[offset + 1]
            size, start = second & 0x7F, offset + 2
            if size >= 126:
                width = 2 if size == 126 else 8
                if end - start < width:
                    break
                size, start = int.from_bytes(buffer[start : start + width], "big"), start + width
            self.check(head, second, size)
            stop = start + 4 + size
            if stop > end:
                break
            offset = stop
            event = self.frame(head, unmask(buffer[start + 4 : stop], buffer[start : start + 4]))
            if event is not None:
                yield event
        self.buffer = buffer[offset:] if offset < end else b""

    def check(self, head: int, second: int, size: int) -> None:
        """Refuse a bad frame from its header, before its payload is read."""
        opcode = head & 0x0F
        if head & 0x70:
            raise Violation(1002, "reserved bits set")
        if not second & 0x80:
            raise Violation(1002, "client frames must be masked")
        if opcode not in OPCODES:
            raise Violation(1002, "unknown opcode")
        if opcode >= CLOSE:
            if not head & 0x80 or size > 125:
                raise Violation(1002, "control frames are at most 125 bytes, never fragmented")
        elif size + (self.message_size if opcode == CONTINUATION else 0) > self.max_size:
            raise Violation(1009, "message too big")

    def frame(self, head: int, payload: bytes) -> Event | None:
        opcode, fin = head & 0x0F, head & 0x80
        if opcode >= CLOSE:
            return opcode, payload
        if opcode == CONTINUATION:
            if self.opcode is None:
                raise Violation(1002, "continuation frame outside a message")
        elif self.opcode is not None:
            raise Violation(1002, "new message inside a fragmented one")
        elif fin:
            return message(opcode, payload)
        else:
            self.opcode = opcode
        self.parts.append(payload)
        self.message_size += len(payload)
        if not fin:
            return None
        whole, opcode = b"".join(self.parts), self.opcode
        self.opcode, self.parts, self.message_size = None, [], 0
        return message(opcode, whole)


def message(opcode: int, payload: bytes) -> Event:
    if opcode == BINARY:
        return BINARY, payload
    try:
        return TEXT, payload.decode()
    except UnicodeDecodeError:
        raise Violation(1007, "invalid UTF-8 in a text message") from None
