"""knowcast keys rotate: every encrypted field ends up under the new key and still reads back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from knowcast.privacy import crypto, keyring, rotation


async def test_rotation_reencrypts_every_row(make_user: Any, ctx: Any, tmp_path: Path) -> None:
    members = [await make_user() for _ in range(3)]
    ring = crypto.cipher().ring
    ring.path = tmp_path / "keyring.json"
    seen: list[tuple[str, int, int]] = []
    new = await rotation.rotate(ctx.db.engine, ring, retire=True, progress=lambda *a: seen.append(a))
    assert new.primary != ring.primary and list(new.keys) == [new.primary]
    assert ("users", 3, 3) in seen
    assert json.loads((tmp_path / "keyring.json").read_text())["primary"] == new.primary
    async with ctx.db.engine.connect() as conn:
        stored = [row.email for row in await conn.execute(text("SELECT email FROM users ORDER BY id"))]
    assert all(crypto.FieldCipher.key_id(value) == new.primary for value in stored)
    me = await members[0].client.get("/api/v1/auth/me")
    assert me.json()["user"]["email"] == members[0].user.email


def test_keys_commands(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWCAST_")}
    env.update(KNOWCAST_DATA_DIR=str(tmp_path), KNOWCAST_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")

    def knowcast(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "knowcast", *args], env=env, capture_output=True, text=True)

    assert "created" in knowcast("keys", "init").stdout
    assert "exists" in knowcast("keys", "init").stdout
    assert knowcast("db", "upgrade").returncode == 0
    assert knowcast("createuser", "--email", "a@example.com", "--password", "long enough").returncode == 0
    first = keyring.from_file(tmp_path / "keys" / "keyring.json").primary
    rotated = knowcast("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "users: 1/1 rows re-encrypted" in rotated.stdout
    ring = keyring.from_file(tmp_path / "keys" / "keyring.json")
    assert ring.primary != first and first in ring.keys
