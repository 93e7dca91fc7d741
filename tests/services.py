"""Which real services the suite can reach. Locally a missing one skips its tests with the reason; in CI
(``CI=true``) a missing one fails them, because CI must run everything."""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("KNOWCAST_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("KNOWCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("KNOWCAST_TEST_CHROMIUM", "/usr/bin/chromium")


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


def database_backends() -> list[str]:
    """SQLite always; PostgreSQL when KNOWCAST_TEST_DATABASE_URL is set (CI sets it)."""
    return ["sqlite", "postgres"] if POSTGRES_URL or IN_CI else ["sqlite"]
