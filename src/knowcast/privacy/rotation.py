"""``knowcast keys rotate``: a new primary key, then every encrypted field re-encrypted under it.

The new ring (old keys included) is saved before any row changes, so a crash part-way leaves every row readable;
old keys are dropped only with ``--retire`` once every row is under the new key.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from knowcast.db.base import Base
from knowcast.db.registry import load_all_models
from knowcast.privacy import crypto
from knowcast.privacy.keyring import KeyRing

BATCH = 500
Progress = Callable[[str, int, int], None]


def encrypted_columns() -> dict[Table, list[str]]:
    load_all_models()
    found: dict[Table, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        names = [c.name for c in table.columns if isinstance(c.type, crypto.EncryptedText)]
        if names:
            found[table] = names
    return found


async def reencrypt(engine: AsyncEngine, progress: Progress) -> int:
    """Rewrite every encrypted value with the installed cipher's primary key; returns the rows touched."""
    total = 0
    for table, names in encrypted_columns().items():
        pk = next(iter(table.primary_key.columns))
        async with engine.begin() as conn:
            rows = (await conn.execute(select(pk, *(table.c[n] for n in names)).order_by(pk))).all()
        for start in range(0, len(rows), BATCH):
            async with engine.begin() as conn:
                for row in rows[start : start + BATCH]:
                    values = {n: row[i + 1] for i, n in enumerate(names)}
                    await conn.execute(update(table).where(pk == row[0]).values(**values))
            progress(table.name, min(start + BATCH, len(rows)), len(rows))
        total += len(rows)
    return total


async def rotate(engine: AsyncEngine, ring: KeyRing, retire: bool, progress: Progress) -> KeyRing:
    new = ring.rotated()
    new.save()
    crypto.install(new)
    await reencrypt(engine, progress)
    if retire:
        new = new.retire_all_but_primary()
        new.save()
        crypto.install(new)
    return new
