"""The knowcast command, run as a user would: a real subprocess against a real database file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KNOWCAST_")}
    environment.update(
        KNOWCAST_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        KNOWCAST_DATA_DIR=str(tmp_path / "data"),
        KNOWCAST_ARGON2_MEMORY_KIB="1024",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "knowcast", *args], env=environment, capture_output=True, text=True, timeout=120
    )


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    first = run(tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    second = run(tmp_path, "db", "upgrade")
    assert second.returncode == 0
    assert "(0 migration(s) applied)" in second.stdout


def test_createuser_owner_with_a_generated_password(tmp_path: Path) -> None:
    run(tmp_path, "db", "upgrade")
    created = run(tmp_path, "createuser", "--email", "Boss@Example.com", "--role", "owner")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created owner Boss@Example.com with password ")
    again = run(tmp_path, "createuser", "--email", "boss@example.com", "--role", "host", "--password", "long enough")
    assert again.returncode == 1
    assert "account.email_taken" in again.stderr


def test_production_without_a_secret_says_what_to_set(tmp_path: Path) -> None:
    result = run(tmp_path, "db", "upgrade", KNOWCAST_MODE="production")
    assert result.returncode == 2
    assert "KNOWCAST_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("args", [["serve", "--workers", "2"]])
def test_several_workers_need_redis(tmp_path: Path, args: list[str]) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert "KNOWCAST_REDIS_URL" in result.stderr


def test_no_command_prints_help(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.returncode == 2
    assert "serve" in result.stdout and "createuser" in result.stdout
