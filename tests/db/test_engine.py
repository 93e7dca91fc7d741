"""knowcast.db.engine: a failed statement on SQLite cannot stop the process when the collector frees it."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from knowcast.db.engine import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    yield database
    await database.dispose()


async def test_a_failed_statement_collected_while_its_connection_waits_for_the_write_lock(db: Database) -> None:
    """The join storm's 10-second stalls, reproduced: connection B's insert fails and the caught error sits in a
    reference cycle; A holds the write lock; B's next write waits for it inside SQLite; the collector now frees
    B's failed statement on this thread. With the statement left open, freeing it waits for B's lock, which B
    holds until its busy timeout (10 s): A never gets to commit and B's write fails as "database is locked".
    Closed when it failed, nothing waits: A commits and B's write goes through."""
    gc.collect()
    gc.disable()  # the collector runs when the test says so
    try:
        async with db.engine.connect() as b:
            cycle: list[Any] = []
            try:
                await b.execute(text("INSERT INTO t VALUES (1)"))
            except IntegrityError as error:  # a unique key raced
                cycle += [error, cycle]
            await b.rollback()
            del cycle
            async with db.engine.connect() as a:
                await a.execute(text("INSERT INTO t VALUES (2)"))
                waiting = asyncio.create_task(b.execute(text("INSERT INTO t VALUES (3)")))
                await asyncio.sleep(0.2)  # B's worker reaches SQLite's busy handler (nothing signals it)
                gc.collect()
                await a.commit()
            await waiting
            await b.commit()
    finally:
        gc.enable()
    async with db.engine.connect() as conn:
        assert list((await conn.execute(text("SELECT id FROM t ORDER BY id"))).scalars()) == [1, 2, 3]
