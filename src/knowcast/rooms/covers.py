"""Cover images: checked by their bytes (not their name), stored under the data folder."""

from __future__ import annotations

import secrets
from pathlib import Path

from knowcast.errors import PayloadTooLarge, ValidationFailed
from knowcast.rooms.errors import RoomsCode

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"RIFF", "webp"),  # checked further below: RIFF....WEBP
)
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


def sniff(data: bytes) -> str:
    for magic, ext in SIGNATURES:
        if data.startswith(magic) and (ext != "webp" or data[8:12] == b"WEBP"):
            return ext
    raise ValidationFailed(
        "the cover must be a PNG, JPEG or WebP image", code=RoomsCode.ROOM_COVER_TYPE, fields={"cover": "type"}
    )


def save_cover(upload_dir: Path, data: bytes, max_bytes: int) -> str:
    """Write the image and return its stored name (random, so it cannot be guessed or collide)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the cover is larger than {max_bytes} bytes", code=RoomsCode.ROOM_COVER_TOO_LARGE)
    ext = sniff(data)
    name = f"{secrets.token_urlsafe(16)}.{ext}"
    upload_dir.mkdir(parents=True, exist_ok=True)
    (upload_dir / name).write_bytes(data)
    return name
