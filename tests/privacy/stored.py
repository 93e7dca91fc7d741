"""Everything the database holds, as text to search for personal data (both backends)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from knowcast.context import AppContext


async def every_row(ctx: AppContext) -> str:
    """Every row of every table, as the database returns it (ciphertext stays ciphertext)."""
    async with ctx.db.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        dumped = []
        for table in tables:
            found = (await conn.execute(text(f'SELECT * FROM "{table}"'))).all()
            dumped.append(f"{table}: {found}")
    return "\n".join(dumped)


async def sqlite_files(ctx: AppContext) -> bytes:
    """The SQLite file and its WAL, byte for byte, after the engine let go of them (so the WAL is checkpointed)."""
    await ctx.db.dispose()
    path = Path(ctx.settings.database_url.split(":///", 1)[1])
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
