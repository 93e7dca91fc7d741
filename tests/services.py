"""Which real services the suite can reach. Locally a missing one skips its tests with the reason; in CI
(``CI=true``) a missing one fails them, because CI must run everything."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("KNOWCAST_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("KNOWCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("KNOWCAST_TEST_CHROMIUM", "/usr/bin/chromium")
JANUS = os.environ.get("KNOWCAST_TEST_JANUS", "/usr/bin/janus")


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but {reason}")
    pytest.skip(reason)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require_redis() -> str:
    if not reachable(REDIS_URL, 6379):
        unavailable(f"Redis is not reachable at {REDIS_URL} (set KNOWCAST_TEST_REDIS_URL)")
    return REDIS_URL


def require_chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


def require_janus() -> str:
    if not (os.path.exists(JANUS) or shutil.which(JANUS)):
        unavailable(f"Janus is not installed at {JANUS} (apt-get install janus)")
    return JANUS


def database_backends() -> list[str]:
    """SQLite always; PostgreSQL when KNOWCAST_TEST_DATABASE_URL is set (CI sets it)."""
    return ["sqlite", "postgres"] if POSTGRES_URL or IN_CI else ["sqlite"]


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A database of its own on the test server, created and then dropped, so that suites and server
    processes running at the same time never share one (the suite's tables are created in it from scratch).
    Yields its URL; call only after checking ``POSTGRES_URL``."""
    import asyncpg

    from knowcast.db.engine import normalize_url

    base = normalize_url(str(POSTGRES_URL)).replace("+asyncpg", "")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
