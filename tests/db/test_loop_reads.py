"""``Database.read`` (issue 16): the crowd's quick reads run on the event loop's thread on SQLite, on a
read-only connection that sees what the async engine committed, and go the async way when the file is locked;
on PostgreSQL they run through an async session. The same function answers either way."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from knowcast.accounts.models import Role, User
from knowcast.db.engine import Database


def names(session: Session, ids: list[int]) -> list[str]:
    return sorted(session.scalars(select(User.display_name).where(User.id.in_(ids))))


async def test_a_quick_read_sees_what_was_just_committed(ctx: Any, make_user: Any) -> None:
    first = await make_user(Role.VIEWER, "早到的人")
    db: Database = ctx.db
    before = db.loop_reads
    assert await db.read(names, [first.user.id]) == ["早到的人"]
    second = await make_user(Role.VIEWER, "后来的人")
    assert await db.read(names, [first.user.id, second.user.id]) == ["后来的人", "早到的人"]
    on_loop = db.dialect == "sqlite"
    assert db.loop_reads - before == (2 if on_loop else 0)


async def test_a_quick_read_cannot_write(tmp_path: Path) -> None:
    """SQLite's quick reads run on a ``query_only`` connection (PostgreSQL's are ordinary async sessions, rolled
    back at their end)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'read-only.db'}")

    def write(session: Session) -> None:
        session.execute(text("CREATE TABLE quick_read_wrote (x INTEGER)"))

    try:
        with pytest.raises(OperationalError, match="readonly"):
            await db.read(write)
    finally:
        await db.dispose()


def numbers(session: Session) -> list[int]:
    return list(session.scalars(text("SELECT x FROM numbers ORDER BY x")))


async def test_a_locked_file_sends_the_read_the_async_way(tmp_path: Path) -> None:
    """Another connection holding the file in exclusive locking mode (as a TRUNCATE checkpoint briefly does): the
    quick read gives up within milliseconds instead of blocking the loop, and the async engine answers once the
    file is free."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}")
    async with db.session() as session:
        await session.execute(text("CREATE TABLE numbers (x INTEGER)"))
        await session.execute(text("INSERT INTO numbers VALUES (1), (2)"))
        await session.commit()
    assert await db.read(numbers) == [1, 2] and db.loop_reads == 1
    await db.engine.dispose()  # no connection of ours open: the holder can take the whole file
    assert db.loop_reader is not None
    db.loop_reader.dispose()
    holder = sqlite3.connect(tmp_path / "locked.db", check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    released = threading.Timer(0.5, holder.close)  # closing lets go of every lock
    released.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        assert await db.read(numbers) == [1, 2]
    finally:
        released.join()
        await db.dispose()
    assert db.loop_reads == 1  # the second read was answered by the async engine, after the holder let go
    assert loop.time() - started >= 0.4
