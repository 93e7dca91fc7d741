"""Personal fields are encrypted at rest with a key id; keys live outside the database and rotate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from knowcast.errors import ConfigError
from knowcast.privacy import crypto, keyring


def test_round_trip_and_key_id() -> None:
    ring = keyring.generate()
    cipher = crypto.FieldCipher(ring)
    token = cipher.encrypt("张三 13800138000", "users.phone")
    assert token.startswith(f"kc1.{ring.primary}.")
    assert "13800138000" not in token
    assert cipher.decrypt(token, "users.phone") == "张三 13800138000"
    assert cipher.encrypt("same", "ctx") != cipher.encrypt("same", "ctx")  # fresh nonce every time


def test_ciphertext_is_bound_to_its_column() -> None:
    cipher = crypto.FieldCipher(keyring.generate())
    token = cipher.encrypt("a@example.com", "users.email")
    with pytest.raises(ConfigError, match="integrity"):
        cipher.decrypt(token, "users.phone")


def test_tampering_is_detected() -> None:
    cipher = crypto.FieldCipher(keyring.generate())
    token = cipher.encrypt("a@example.com", "users.email")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(ConfigError):
        cipher.decrypt(flipped, "users.email")


def test_rotated_ring_reads_old_data_and_writes_with_the_new_key() -> None:
    old = keyring.generate()
    token = crypto.FieldCipher(old).encrypt("x", "c")
    new = old.rotated()
    assert new.primary != old.primary
    cipher = crypto.FieldCipher(new)
    assert cipher.decrypt(token, "c") == "x"
    assert cipher.key_id(cipher.encrypt("x", "c")) == new.primary
    assert cipher.lookup_hash("a", "email") == crypto.FieldCipher(old).lookup_hash("a", "email")


def test_key_file_is_private_and_production_never_invents_one(tmp_path: Path) -> None:
    ring = keyring.load(tmp_path, None, None, create=True)
    path = tmp_path / "keys" / "keyring.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert keyring.load(tmp_path, None, None, create=False) == ring
    with pytest.raises(ConfigError, match="KNOWCAST_ENCRYPTION_KEYS"):
        keyring.load(tmp_path / "elsewhere", None, None, create=False)


def test_keys_from_the_environment(tmp_path: Path) -> None:
    ring = keyring.generate()
    data = json.loads(ring.to_json())
    env = ",".join(f"{kid}:{key}" for kid, key in data["keys"].items())
    loaded = keyring.load(tmp_path, env, data["lookup"], create=False)
    assert loaded.keys == ring.keys and loaded.lookup_key == ring.lookup_key
    with pytest.raises(ConfigError, match=r"base64|bytes"):
        keyring.load(tmp_path, "k1:short", data["lookup"], create=False)


async def test_email_and_phone_are_not_stored_in_plaintext(make_user: Any, ctx: Any) -> None:
    member = await make_user()
    async with ctx.db.session() as session:
        user = await session.get(type(member.user), member.user.id)
        user.phone = "13912345678"
        await session.commit()
        row = (await session.execute(text("SELECT email, phone, email_hash FROM users"))).one()
    assert member.user.email not in row.email and row.email.startswith("kc1.")
    assert "13912345678" not in row.phone
    assert len(row.email_hash) == 64 and member.user.email not in row.email_hash


async def test_accounts_are_found_by_a_keyed_hash_of_the_email(make_user: Any, ctx: Any, client_factory: Any) -> None:
    """The email column is ciphertext with a fresh nonce each time, so it cannot be searched; the account is
    found by HMAC(lookup key, normalised email). Without the lookup key the hash cannot be recomputed from a
    guessed address, and the key survives rotation of the encryption keys (it never changes)."""
    member = await make_user()
    email = member.user.email
    async with ctx.db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT email_hash FROM users WHERE id = :id"), {"id": member.user.id})).one()
    keyed = crypto.cipher().lookup_hash(email.lower(), "email")
    assert stored.email_hash == keyed
    assert stored.email_hash != hashlib.sha256(email.encode()).hexdigest()  # not a plain, guessable hash
    other_key = crypto.FieldCipher(keyring.generate()).lookup_hash(email.lower(), "email")
    assert other_key != keyed
    rotated = crypto.FieldCipher(crypto.cipher().ring.rotated())
    assert rotated.lookup_hash(email.lower(), "email") == keyed  # lookups survive key rotation
    shouted = await client_factory().post(
        "/api/v1/auth/signin", json={"email": f"  {email.upper()} ", "password": "correct horse battery"}
    )
    assert shouted.status_code == 200 and shouted.json()["user"]["id"] == member.user.id
