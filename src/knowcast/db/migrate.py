"""Run Alembic migrations programmatically, so the wheel carries them and no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from knowcast.db.engine import make_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Apply pending migrations; running it again when nothing is pending changes nothing.

    Each domain may keep its own branch of migrations off a shared base, so the target is every head.
    """
    _ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(database_url), revision)


async def pending(database_url: str) -> list[str]:
    """Revisions not yet applied, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    _ensure_sqlite_folder(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    finally:
        await engine.dispose()
    applied = {rev.revision for rev in script.iterate_revisions(heads, "base")} if heads else set()
    return [rev.revision for rev in reversed(list(script.walk_revisions())) if rev.revision not in applied]


def _ensure_sqlite_folder(database_url: str) -> None:
    url = normalize_url(database_url)
    if url.startswith("sqlite") and ":memory:" not in url:
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
