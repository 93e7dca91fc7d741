"""Retention (issue 7, point 4): raw events older than the setting fold into daily facts and are deleted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from knowcast.analytics import models as m
from knowcast.analytics import retention
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.store import write_records
from knowcast.context import AppContext


async def test_old_raw_events_fold_into_daily_facts_and_go(ctx: AppContext) -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    old = datetime(2026, 7, 1, 10, tzinfo=UTC)  # 150 days ago
    recent = now - timedelta(days=3)
    records = [
        Record("view_start", 5, old, visitor="p:a", view_id="old-view-1", channel="wechat", host_id=1),
        Record("heartbeat", 5, old + timedelta(seconds=15), visitor="p:a", view_id="old-view-1", watched=15, host_id=1),
        Record("view_start", 5, old, visitor="p:b", view_id="old-view-2", host_id=1),
        Record("order_paid", 5, old, visitor="p:b", user_id=3, order_id=1, amount=9900, host_id=1),
        Record("view_start", 5, recent, visitor="p:c", view_id="new-view-1", host_id=1),
    ]
    async with ctx.db.session() as session:
        await write_records(session, records, {})
        await session.commit()
        purged = await retention.purge(session, days=90, now=now)
        assert (purged.events, purged.views) == (4, 2)
        left = await session.scalar(select(func.count()).select_from(m.AnalyticsEvent))
        assert left == 1  # the recent view start
        facts = {(f.day, f.kind): f for f in await session.scalars(select(m.DailyFact).where(m.DailyFact.room_id == 5))}
        day = date(2026, 7, 1)
        assert facts[(day, "view_start")].events == 2 and facts[(day, "view_start")].visitors == 2
        assert facts[(day, "order_paid")].amount == 9900
        assert facts[(day, "view")].events == 2 and facts[(day, "view")].amount == 15
        # the per-room facts that reports read are kept
        uv = await session.scalar(select(func.count()).select_from(m.RoomVisitor).where(m.RoomVisitor.room_id == 5))
        assert uv == 3
        again = await retention.purge(session, days=90, now=now)
        assert (again.events, again.views, again.facts) == (0, 0, 0)


def test_the_cutoff_is_a_whole_utc_day() -> None:
    cut = retention.cutoff_for(90, datetime(2026, 11, 28, 23, 59, tzinfo=UTC))
    assert cut == datetime(2026, 8, 30, tzinfo=UTC)


async def test_the_setting_drives_the_writer_housekeeping(ctx: AppContext, monkeypatch: Any) -> None:
    called: list[int] = []

    async def fake_purge(session: Any, days: int, now: Any = None) -> Any:
        called.append(days)

    monkeypatch.setattr(retention, "purge", fake_purge)
    ctx.settings.analytics_retention_days = 30
    await ctx.runtime(AnalyticsRuntime).housekeeping()
    assert called == [30]
