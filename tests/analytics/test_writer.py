"""The analytics writer: the facts' upserts merged by their rules on both databases, in statements built once
and handed to the driver row by row as tuples, and batches as large as the flush interval gathers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from knowcast.analytics import models as m
from knowcast.analytics.facts import VISITORS
from knowcast.analytics.records import Record
from knowcast.analytics.rows import insert_sql
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.store import Batch, EventStore
from knowcast.analytics.upsert import Upserts, on_conflict, table_of
from knowcast.context import AppContext
from knowcast.db.types import utcnow


async def test_rows_merge_by_the_rules_and_unmentioned_columns_take_their_defaults(ctx: AppContext) -> None:
    at = utcnow().replace(microsecond=0)
    first: dict[str, Any] = {"room_id": 7, "visitor": "p:a", "host_id": 3, "views": 1, "first_at": at}
    async with ctx.db.session() as db:
        visitors = Upserts(table_of(m.RoomVisitor), VISITORS)
        visitors.put({**first, "last_at": at, "channel": "wechat", "variants": {"x": "b"}})
        await visitors.write(db)
        visitors.put({**first, "host_id": 2, "first_at": at - timedelta(minutes=5), "last_at": at, "channel": None})
        visitors.put(
            {"room_id": 7, "visitor": "p:b", "views": 2, "watched_seconds": 12.5, "first_at": at, "last_at": at}
        )
        await visitors.write(db)
        await db.commit()
        rows = {row.visitor: row for row in await db.scalars(select(m.RoomVisitor))}
    a, b = rows["p:a"], rows["p:b"]
    assert (a.views, a.host_id, a.first_at, a.last_at) == (2, 3, at - timedelta(minutes=5), at)  # add, greatest, least
    assert (a.channel, a.variants) == ("wechat", {"x": "b"})  # a None never replaces a value
    assert (b.views, b.watched_seconds, b.saw, b.gmv, b.channel) == (2, 12.5, 0, 0, None)  # defaults, not NULL


def test_the_upsert_is_one_statement_in_the_drivers_placeholders_built_once() -> None:
    """SQLAlchemy's dialect INSERT … ON CONFLICT has no cache key and was compiled on every flush; its
    executemany then built a dictionary per row. Now: the SQL once per (table, columns, dialect), a tuple a row."""
    columns = ["room_id", "visitor", "views", "variants"]
    for dialect, mark in ((sqlite.dialect(), "?"), (postgresql.asyncpg.dialect(), "$4")):
        clause = on_conflict(dialect, table_of(m.RoomVisitor), VISITORS, columns)
        assert clause.startswith("ON CONFLICT (room_id, visitor) DO UPDATE SET")
        assert "views = coalesce(analytics_room_visitors.views, 0) + coalesce(excluded.views, 0)" in clause
        assert "host_id" not in clause  # only the columns given are merged
        sql = insert_sql(dialect, table_of(m.RoomVisitor), columns, clause, [mark] * 4)
        assert sql.startswith("INSERT INTO analytics_room_visitors (room_id, visitor, views, variants) VALUES (")


class _GatedStore(EventStore):
    """A store whose writes wait for the test to let them finish."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.batches: list[int] = []

    async def write(self, batch: Batch, kinds: Mapping[int, str]) -> None:
        await self.gate.wait()
        self.batches.append(len(batch.records))


async def test_events_arriving_during_a_write_wait_for_the_next_round_unless_a_batch_is_full(ctx: AppContext) -> None:
    """A writer that went again at once for what came in during its write wrote a join storm's events a few at a
    time (447 writes of 9 events for 4,000 viewers); now a partial batch waits up to the flush interval."""
    store = _GatedStore()
    runtime = AnalyticsRuntime(ctx, store=store, registry=CollectorRegistry())
    size = ctx.settings.analytics_batch_size
    event = Record(kind="view_start", room_id=1, at=utcnow(), visitor="p:a", view_id="v")
    runtime.offer(event)
    writing = asyncio.create_task(runtime.flush())
    await asyncio.sleep(0)
    for _ in range(3):
        runtime.offer(event)  # arrive while the first batch is being written
    store.gate.set()
    assert await writing == 1
    assert not runtime._wake.is_set() and len(runtime.queue) == 3  # the next round takes them
    for _ in range(size):
        runtime.offer(event)
    assert runtime._wake.is_set()  # a full batch does not wait
    assert await runtime.flush() == size and await runtime.flush() == 3 and store.batches == [1, size, 3]
