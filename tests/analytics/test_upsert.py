"""The facts' upserts: merged by their rules on both databases, and statements SQLAlchemy can cache."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from knowcast.analytics import models as m
from knowcast.analytics.facts import VISITORS
from knowcast.analytics.upsert import Upserts, table_of, upsert_sql
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


def test_statements_are_cacheable_so_each_is_compiled_once() -> None:
    """SQLAlchemy's dialect INSERT … ON CONFLICT has no cache key and was compiled on every flush."""
    for dialect in ("sqlite", "postgresql"):
        stmt = upsert_sql(table_of(m.RoomVisitor), VISITORS, dialect, ["room_id", "visitor", "views", "variants"])
        assert stmt._generate_cache_key() is not None
        sql = str(stmt)
        assert "ON CONFLICT (room_id, visitor) DO UPDATE SET" in sql
        assert "views = coalesce(analytics_room_visitors.views, 0) + coalesce(excluded.views, 0)" in sql
        assert ("greatest" in sql) is False  # only the columns given are merged: host_id was not among them
