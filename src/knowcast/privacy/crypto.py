"""Field encryption: AES-256-GCM with a key id, and keyed hashes for looking encrypted values up.

A ciphertext reads ``kc1.<kid>.<base64(nonce ‖ ciphertext ‖ tag)>``. The column's name is the associated data,
so a value copied into another column does not decrypt.

Column types cannot reach the app context, so the cipher for EncryptedText is installed per process with
``install``; the app, the CLI and the tests install the key ring they loaded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from knowcast.errors import ConfigError
from knowcast.privacy.keyring import KeyRing

PREFIX = "kc1"
NONCE_BYTES = 12


class FieldCipher:
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.ring.key(self.ring.primary)).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}.{self.ring.primary}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        try:
            prefix, kid, body = token.split(".", 2)
            raw = base64.urlsafe_b64decode(body.encode())
        except ValueError as exc:
            raise ConfigError("an encrypted field is malformed") from exc
        if prefix != PREFIX:
            raise ConfigError(f"unknown ciphertext version {prefix!r}")
        try:
            plain = AESGCM(self.ring.key(kid)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise ConfigError("an encrypted field failed its integrity check") from exc
        return plain.decode()

    @staticmethod
    def key_id(token: str) -> str:
        return token.split(".", 2)[1]

    def lookup_hash(self, value: str, purpose: str) -> str:
        """A keyed hash for finding a row by an encrypted value (equal inputs, equal hashes)."""
        return hmac.new(self.ring.lookup_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


_installed: FieldCipher | None = None


def install(ring: KeyRing) -> FieldCipher:
    global _installed
    _installed = FieldCipher(ring)
    return _installed


def cipher() -> FieldCipher:
    if _installed is None:
        raise ConfigError("no encryption key ring is installed (the app, CLI or test must load one first)")
    return _installed


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted. ``context`` (table.column) is bound into every ciphertext."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher().encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher().decrypt(value, self.context)
