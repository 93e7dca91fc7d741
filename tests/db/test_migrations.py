"""Migrations: idempotent upgrades, the pending list, SQLite in WAL mode."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from knowcast.db import migrate
from knowcast.db.engine import Database, normalize_url


async def test_upgrade_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'k.db'}"
    assert len(await migrate.pending(url)) >= 1
    migrate.upgrade(url)
    assert await migrate.pending(url) == []
    migrate.upgrade(url)
    assert await migrate.pending(url) == []


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    migrate.upgrade(url)
    db = Database(url)
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await db.dispose()


def test_pasted_urls_pick_the_async_drivers() -> None:
    assert normalize_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalize_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalize_url("sqlite:///./x.db") == "sqlite+aiosqlite:///./x.db"


async def test_migrations_create_exactly_what_the_models_describe(tmp_path: Path) -> None:
    """A model changed without a migration (or the reverse) shows up here as a difference."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from knowcast.db.base import Base
    from knowcast.db.registry import load_all_models

    load_all_models()
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    migrate.upgrade(url)
    db = Database(url)
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    await db.dispose()
    assert diff == []
