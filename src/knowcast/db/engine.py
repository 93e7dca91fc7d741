"""The async engine and session factory for SQLite (WAL) or PostgreSQL (asyncpg), and the crowd's quick reads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_cursor
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

log = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 10_000
LOOP_READ_BUSY_MS = 20  # the most a quick read on the event loop waits for a locked file before going async
P = ParamSpec("P")
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgresql://``, ``sqlite:///``) and pick the async drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted personal data is zeroed in the file, not left in free pages
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _close_failed_cursor(self: AsyncAdapt_aiosqlite_cursor, cursor: Any, _error: BaseException) -> None:
    """Close the driver's cursor of a statement that failed, as SQLAlchemy does only for a cancelled one.

    Left open, the cursor keeps its statement (Python 3.11's sqlite3 does not reset it on an error) and is
    held by the exception's traceback; a caught exception sits in a reference cycle with it, so the garbage
    collector frees it later, on the event loop's thread, and resetting the statement takes the connection's
    lock. If that connection's worker is then waiting for the write lock, held by a transaction that needs the
    loop to finish, the whole process stops for the busy timeout: measured in a join storm, the server idle
    for exactly 10 s, twice per run, after a crowd's first arrivals raced to insert one row (docs/benchmarks.md,
    "Join storm"; tests/db/test_engine.py reproduces it). Closed here, the statement is reset on the
    connection's own thread, right after it failed."""
    try:
        self.await_(cursor.close())
    except Exception:  # the connection itself is gone: nothing is left to reset
        log.debug("could not close a failed statement's cursor", exc_info=True)


AsyncAdapt_aiosqlite_cursor._close_interrupted = _close_failed_cursor  # type: ignore[method-assign,assignment]


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def _loop_reader_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # this connection can never write, whatever a caller asks
    cursor.execute(f"PRAGMA busy_timeout={LOOP_READ_BUSY_MS}")
    cursor.close()


def make_loop_reader(url: str) -> Engine | None:
    """SQLite file: a synchronous, read-only connection for quick reads on the event loop's thread (None for
    PostgreSQL and for an in-memory database, which another connection would not see)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    engine = create_engine(
        f"sqlite:///{parsed.database}",
        poolclass=StaticPool,  # one connection, used only by the loop's thread, one read at a time
        connect_args={"check_same_thread": False, "timeout": LOOP_READ_BUSY_MS / 1000},
    )
    event.listen(engine, "connect", _loop_reader_pragmas)
    return engine


class Database:
    """Owns the engine and hands out sessions. One per app; disposed at shutdown."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.loop_reader = make_loop_reader(self.url)
        self._loop_sessions = sessionmaker(self.loop_reader, expire_on_commit=False) if self.loop_reader else None
        self.loop_reads = 0  # quick reads answered on the loop's thread (the rest went through the async engine)

    async def read(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(session, ...)``: a short read-only function with a synchronous Session, for lookups a crowd makes
        by the thousand (a batch of session cookies, standings, the viewers' own shop parts).

        SQLite: run right here on the event loop's thread, on a read-only connection of its own. An indexed
        read takes tens of microseconds in SQLite, while each query through aiosqlite costs four hand-offs to
        its thread and back, ~0.5 ms of CPU (docs/benchmarks.md); in WAL mode a reader never waits for a
        writer, and a read that finds the file locked (a TRUNCATE checkpoint) gives up after LOOP_READ_BUSY_MS
        and goes the async way. PostgreSQL (and an in-memory SQLite): through an async session (``run_sync``).
        """
        if self._loop_sessions is not None:
            try:
                with self._loop_sessions() as session:
                    found = fn(session, *args, **kwargs)
                self.loop_reads += 1
                return found
            except OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                log.warning("a quick read found the database locked; reading through the async engine")
        async with self.session() as session:
            return await session.run_sync(fn, *args, **kwargs)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def checkpoint(self, attempts: int = 20) -> bool:
        """SQLite: copy the WAL into the database file and truncate it to nothing, so that no older copy of a
        page (an erased person's rows, say) stays on disk; with secure_delete the freed bytes are zeroed too.
        True when done (always on PostgreSQL, whose files are not ours to scrub); False when readers kept it
        from finishing ``attempts`` times."""
        if self.dialect != "sqlite":
            return True
        for attempt in range(attempts):
            async with self.engine.connect() as conn:
                busy, _, _ = (await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).one()
            if not busy:
                return True
            await asyncio.sleep(0.05 * (attempt + 1))  # a reader holds an older snapshot: let it finish
        return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.loop_reader is not None:
            self.loop_reader.dispose()
