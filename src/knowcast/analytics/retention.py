"""Raw analytics past ``analytics_retention_days`` is folded into daily facts, then deleted.

Whole UTC days only (the cutoff is a midnight), so a day is folded once: per room, day and kind, the number of
events, of distinct visitors and the summed amount (minor units; for views, watched seconds). The per-room
facts that reports, profiles and experiments read are kept; only the raw log and the view sessions go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, cast, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.analytics.upsert import Merge, Upserts, table_of
from knowcast.db.types import utcnow

FACTS = Merge(keys=("room_id", "day", "kind"), add=("events", "visitors", "amount"))


@dataclass(frozen=True)
class Purged:
    events: int
    views: int
    facts: int


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    today = (now or utcnow()).astimezone(UTC).date()
    return datetime.combine(today - timedelta(days=days), time(), tzinfo=UTC)


def _day(session: AsyncSession, column: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return func.date(column) if dialect == "sqlite" else cast(column, Date)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def purge(session: AsyncSession, days: int, now: datetime | None = None) -> Purged:
    cutoff = cutoff_for(days, now)
    facts = Upserts(table_of(m.DailyFact), FACTS)
    events = m.AnalyticsEvent
    day = _day(session, events.at)
    grouped = select(
        events.room_id, day, events.kind, func.count(), func.count(events.visitor.distinct()), func.sum(events.amount)
    ).where(events.at < cutoff)
    for room_id, when, kind, count, visitors, amount in await session.execute(
        grouped.group_by(events.room_id, day, events.kind)
    ):
        facts.put(
            {
                "room_id": room_id,
                "day": _as_date(when),
                "kind": kind,
                "events": count,
                "visitors": visitors,
                "amount": int(amount or 0),
            }
        )
    views = m.AnalyticsView
    vday = _day(session, views.started_at)
    watched = select(
        views.room_id, vday, func.count(), func.count(views.visitor.distinct()), func.sum(views.watched_seconds)
    ).where(views.last_beat_at < cutoff)
    for room_id, when, count, visitors, seconds in await session.execute(watched.group_by(views.room_id, vday)):
        facts.put(
            {
                "room_id": room_id,
                "day": _as_date(when),
                "kind": "view",
                "events": count,
                "visitors": visitors,
                "amount": int(seconds or 0),
            }
        )
    folded = len(facts.rows)
    await facts.write(session)
    gone_events = await session.execute(delete(events).where(events.at < cutoff))
    gone_views = await session.execute(delete(views).where(views.last_beat_at < cutoff))
    await session.commit()
    return Purged(gone_events.rowcount or 0, gone_views.rowcount or 0, folded)  # type: ignore[attr-defined]
