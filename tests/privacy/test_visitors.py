"""knowcast.privacy.visitors: a day's salt is made once, however many first arrivals ask for it together."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, func, select, text

from knowcast.context import AppContext
from knowcast.privacy import visitors
from knowcast.privacy.models import VisitorSalt


async def test_a_crowd_of_first_arrivals_makes_the_days_salt_once(ctx: AppContext) -> None:
    """A storm's first viewers all find no salt for the day: one makes it, the rest wait and read it; none
    inserts a second one and fails (a failed statement on SQLite can stall the process, see ``salt``)."""
    ids = visitors.VisitorIds("Asia/Shanghai")
    await _open_connections(ctx, 5)  # as in a storm, the pool's connections exist: the crowd's reads are quick
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO VISITOR_SALTS"):
            inserts.append(statement)

    event.listen(ctx.db.engine.sync_engine, "before_cursor_execute", count)
    try:

        async def arrive(n: int) -> str:
            async with ctx.db.session() as session:
                return await ids.pseudonymous(session, f"10.0.0.{n}", "phone")

        ids_seen = await asyncio.gather(*(arrive(n % 3) for n in range(30)))
    finally:
        event.remove(ctx.db.engine.sync_engine, "before_cursor_execute", count)
    assert len(inserts) == 1
    assert len(set(ids_seen)) == 3  # the same address and agent: the same visitor, whoever made the salt
    async with ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(VisitorSalt)) == 1
    assert await ids.pseudonymous(None, "10.0.0.0", "phone") == ids_seen[0]  # kept in memory: no session needed


async def test_a_salt_made_by_another_process_is_used(ctx: AppContext) -> None:
    """Two processes (two VisitorIds on one database) agree on the day's visitor ids."""
    one, other = visitors.VisitorIds("Asia/Shanghai"), visitors.VisitorIds("Asia/Shanghai")
    async with ctx.db.session() as session:
        mine = await one.pseudonymous(session, "10.0.0.1", "phone")
    async with ctx.db.session() as session:
        theirs = await other.pseudonymous(session, "10.0.0.1", "phone")
    assert mine == theirs


async def _open_connections(ctx: AppContext, count: int) -> None:
    """Have the engine's pool hold ``count`` open connections (each checked out at once, then returned)."""
    everyone_in = asyncio.Barrier(count)

    async def hold() -> None:
        async with ctx.db.session() as session:
            await session.execute(text("SELECT 1"))
            await everyone_in.wait()

    await asyncio.gather(*(hold() for _ in range(count)))
