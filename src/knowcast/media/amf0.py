"""AMF0, the value encoding of RTMP commands (``connect``, ``publish``, ``onStatus``) and stream metadata.

Only what publishers send and what our replies need: numbers, booleans, strings, objects, ECMA arrays, strict
arrays, null/undefined and dates. Anything else is a protocol error, never a crash.
"""

from __future__ import annotations

import struct
from typing import Any

NUMBER, BOOLEAN, STRING, OBJECT, NULL, UNDEFINED, ECMA_ARRAY, OBJECT_END, STRICT_ARRAY, DATE, LONG_STRING = (
    0x00,
    0x01,
    0x02,
    0x03,
    0x05,
    0x06,
    0x08,
    0x09,
    0x0A,
    0x0B,
    0x0C,
)
MAX_DEPTH = 16


class AmfError(ValueError):
    """The bytes are not AMF0 we understand."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise AmfError("truncated AMF0 value")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def string(self, long: bool = False) -> str:
        size = struct.unpack(">I", self.take(4))[0] if long else struct.unpack(">H", self.take(2))[0]
        return self.take(size).decode("utf-8", errors="replace")

    def value(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise AmfError("AMF0 nesting too deep")
        marker = self.take(1)[0]
        if marker == NUMBER:
            return struct.unpack(">d", self.take(8))[0]
        if marker == BOOLEAN:
            return self.take(1)[0] != 0
        if marker == STRING:
            return self.string()
        if marker == LONG_STRING:
            return self.string(long=True)
        if marker in (NULL, UNDEFINED):
            return None
        if marker == OBJECT:
            return self.properties(depth)
        if marker == ECMA_ARRAY:
            self.take(4)  # the advertised count is a hint; the end marker is what counts
            return self.properties(depth)
        if marker == STRICT_ARRAY:
            count = struct.unpack(">I", self.take(4))[0]
            if count > len(self.data):
                raise AmfError("AMF0 array longer than its message")
            return [self.value(depth + 1) for _ in range(count)]
        if marker == DATE:
            millis = struct.unpack(">d", self.take(8))[0]
            self.take(2)  # time zone, unused by the format in practice
            return millis
        raise AmfError(f"unsupported AMF0 marker 0x{marker:02x}")

    def properties(self, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            key = self.string()
            if not key and self.data[self.pos : self.pos + 1] == bytes([OBJECT_END]):
                self.pos += 1
                return result
            result[key] = self.value(depth + 1)


def decode_all(data: bytes) -> list[Any]:
    """Every value in ``data``, in order."""
    reader = _Reader(data)
    values = []
    while reader.pos < len(data):
        values.append(reader.value())
    return values


def encode(value: Any) -> bytes:
    if value is None:
        return bytes([NULL])
    if isinstance(value, bool):
        return bytes([BOOLEAN, 1 if value else 0])
    if isinstance(value, int | float):
        return bytes([NUMBER]) + struct.pack(">d", float(value))
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            return bytes([LONG_STRING]) + struct.pack(">I", len(raw)) + raw
        return bytes([STRING]) + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        return bytes([OBJECT]) + _encode_properties(value)
    if isinstance(value, list | tuple):
        return bytes([STRICT_ARRAY]) + struct.pack(">I", len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {type(value).__name__} as AMF0")


def encode_all(*values: Any) -> bytes:
    return b"".join(encode(v) for v in values)


def _encode_properties(items: dict[str, Any]) -> bytes:
    out = bytearray()
    for key, value in items.items():
        raw = key.encode("utf-8")
        out += struct.pack(">H", len(raw)) + raw + encode(value)
    return bytes(out + b"\x00\x00" + bytes([OBJECT_END]))
