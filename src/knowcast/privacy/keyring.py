"""Encryption keys, kept outside the database.

Keys come from ``KNOWCAST_ENCRYPTION_KEYS`` (``kid:base64key,kid2:base64key``; the first is primary) or from
``<data dir>/keys/keyring.json`` (mode 0600), which development creates on first start. Production refuses to
start without one of them, so a fresh key is never silently made for a database full of old ciphertexts.

The lookup key (for blind indexes such as the email hash) is separate and never rotates: rotating it would mean
re-hashing every lookup column while serving; the encryption keys rotate with ``knowcast keys rotate``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from knowcast.errors import ConfigError

KEY_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{what} is not valid base64") from exc
    if len(data) != KEY_BYTES:
        raise ConfigError(f"{what} must be {KEY_BYTES} bytes, got {len(data)}")
    return data


def new_kid() -> str:
    return "k" + secrets.token_hex(4)


@dataclass
class KeyRing:
    primary: str
    keys: dict[str, bytes]
    lookup_key: bytes
    path: Path | None = field(default=None, compare=False)

    def key(self, kid: str) -> bytes:
        try:
            return self.keys[kid]
        except KeyError:
            raise ConfigError(f"encryption key {kid!r} is not in the key ring; restore it to read this data") from None

    def rotated(self) -> KeyRing:
        """A ring with a fresh primary key; old keys stay so existing data can still be read."""
        kid = new_kid()
        return KeyRing(kid, {kid: secrets.token_bytes(KEY_BYTES), **self.keys}, self.lookup_key, self.path)

    def retire_all_but_primary(self) -> KeyRing:
        return KeyRing(self.primary, {self.primary: self.keys[self.primary]}, self.lookup_key, self.path)

    def to_json(self) -> str:
        keys = {kid: _b64(key) for kid, key in self.keys.items()}
        return json.dumps({"primary": self.primary, "keys": keys, "lookup": _b64(self.lookup_key)}, indent=1)

    def save(self) -> None:
        if self.path is None:
            raise ConfigError("this key ring came from KNOWCAST_ENCRYPTION_KEYS; update that variable instead")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.to_json())
        os.replace(tmp, self.path)


def generate(path: Path | None = None) -> KeyRing:
    kid = new_kid()
    return KeyRing(kid, {kid: secrets.token_bytes(KEY_BYTES)}, secrets.token_bytes(KEY_BYTES), path)


def from_env(value: str, lookup: str | None) -> KeyRing:
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        kid, sep, encoded = part.partition(":")
        if not sep or not kid:
            raise ConfigError("KNOWCAST_ENCRYPTION_KEYS entries look like kid:base64key")
        keys[kid] = _unb64(encoded, f"encryption key {kid!r}")
    if not keys:
        raise ConfigError("KNOWCAST_ENCRYPTION_KEYS is empty")
    if lookup is None:
        raise ConfigError("KNOWCAST_LOOKUP_KEY must be set together with KNOWCAST_ENCRYPTION_KEYS")
    return KeyRing(next(iter(keys)), keys, _unb64(lookup, "KNOWCAST_LOOKUP_KEY"))


def from_file(path: Path) -> KeyRing:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = {kid: _unb64(text, f"key {kid!r}") for kid, text in data["keys"].items()}
        ring = KeyRing(str(data["primary"]), keys, _unb64(data["lookup"], "lookup key"), path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the key ring {path}: {exc}") from exc
    ring.key(ring.primary)
    return ring


def load(
    data_dir: Path, env_keys: str | None, env_lookup: str | None, create: bool, keyring_path: Path | None = None
) -> KeyRing:
    """The key ring from the environment, else the key file, else (development only) a new key file."""
    if env_keys:
        return from_env(env_keys, env_lookup)
    path = keyring_path or data_dir / "keys" / "keyring.json"
    if path.exists():
        return from_file(path)
    if not create:
        raise ConfigError(
            f"no encryption keys: set KNOWCAST_ENCRYPTION_KEYS and KNOWCAST_LOOKUP_KEY, or provide {path} "
            "(knowcast keys init creates one)"
        )
    ring = generate(path)
    ring.save()
    return ring
