"""Reading the stored facts: a stream's totals, every stream of a host, concurrency from view sessions.

Everything here reads the per-room facts (one row per visitor, minute, product), never the raw event log, so
a report costs the size of its audience, not the number of events behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.analytics.overlap import sweep
from knowcast.analytics.records import MIN_VIEW_SECONDS, VIEW_TIMEOUT_SECONDS
from knowcast.ports import RoomFigures

V = m.RoomVisitor


@dataclass
class Totals:
    uv: int = 0
    pv: int = 0
    watched: float = 0.0
    saw: int = 0
    clicked: int = 0
    ordered: int = 0
    paid: int = 0
    interacted: int = 0
    buyers: int = 0
    gmv: int = 0
    refunds: int = 0
    orders_paid: int = 0

    @classmethod
    def of(cls, row: Any) -> Totals:
        values = {f.name: row[i] or 0 for i, f in enumerate(fields(cls))}
        return cls(**{k: float(v) if k == "watched" else int(v) for k, v in values.items()})  # type: ignore[arg-type]


def _viewer_flag(column: Any) -> Any:
    return func.sum(case(((V.watched_seconds >= MIN_VIEW_SECONDS) & (column > 0), 1), else_=0))


TOTAL_COLUMNS = (
    func.sum(case((V.watched_seconds >= MIN_VIEW_SECONDS, 1), else_=0)),
    func.sum(V.views),
    func.sum(V.watched_seconds),
    _viewer_flag(V.saw),
    _viewer_flag(V.clicked),
    _viewer_flag(V.ordered),
    _viewer_flag(V.paid),
    _viewer_flag(V.interacted),
    func.count(func.distinct(case((V.orders_paid > 0, V.buyer_key), else_=None))),
    func.sum(V.gmv),
    func.sum(V.refunds),
    func.sum(V.orders_paid),
)


async def totals(session: AsyncSession, room_id: int) -> Totals:
    row = (await session.execute(select(*TOTAL_COLUMNS).where(V.room_id == room_id))).one()
    return Totals.of(row)


async def grouped(session: AsyncSession, room_id: int, column: Any) -> list[tuple[str, Totals]]:
    query = select(column, *TOTAL_COLUMNS).where(V.room_id == room_id).group_by(column)
    return [(str(row[0] or ""), Totals.of(row[1:])) for row in await session.execute(query)]


async def first_touch(session: AsyncSession, room_id: int) -> list[tuple[str, Totals]]:
    """The same totals grouped by each visitor's first channel with the host (first-touch attribution)."""
    T = m.Touch
    query = (
        select(T.first_channel, *TOTAL_COLUMNS)
        .select_from(V)
        .outerjoin(T, (T.host_id == V.host_id) & (T.visitor == V.visitor))
        .where(V.room_id == room_id)
        .group_by(T.first_channel)
    )
    return [(str(row[0] or ""), Totals.of(row[1:])) for row in await session.execute(query)]


async def by_variant(session: AsyncSession, room_id: int) -> list[tuple[str, Totals]]:
    """Totals per experiment variant ("experiment key: variant") of the room's visitors."""
    query = select(V.variants, V.views, V.watched_seconds, V.saw, V.clicked, V.ordered, V.paid, V.interacted)
    query = query.add_columns(V.buyer_key, V.orders_paid, V.gmv, V.refunds).where(
        V.room_id == room_id, V.variants.is_not(None)
    )
    groups: dict[str, Totals] = {}
    buyers: dict[str, set[str]] = {}
    for variants, views, watched, *flags, buyer, orders, gmv, refunds in await session.execute(query):
        for experiment, variant in (variants or {}).items():
            key = f"{experiment}:{variant}"
            t = groups.setdefault(key, Totals())
            viewer = watched >= MIN_VIEW_SECONDS
            t.uv += viewer
            t.pv += views
            t.watched += watched
            for name, flag in zip(("saw", "clicked", "ordered", "paid", "interacted"), flags, strict=True):
                setattr(t, name, getattr(t, name) + int(viewer and flag > 0))
            if orders and buyer:
                buyers.setdefault(key, set()).add(buyer)
            t.gmv, t.refunds, t.orders_paid = t.gmv + gmv, t.refunds + refunds, t.orders_paid + orders
    for key, t in groups.items():
        t.buyers = len(buyers.get(key, ()))
    return sorted(groups.items())


@dataclass
class Stream:
    room_id: int
    started_at: datetime
    ended_at: datetime | None
    totals: Totals
    reminders: int = 0  # booked before it went live
    promotion: bool = False  # ran a coupon or a flash sale


async def streams_of(
    session: AsyncSession, host_id: int, before: datetime | None = None, imported: bool = False
) -> list[Stream]:
    """Every stream of a host that went live (oldest first), with its totals, in one query; with ``imported``,
    the past streams brought from another platform too (room id 0; only viewers, orders and GMV known)."""
    R = m.AnalyticsRoom
    promoted = select(m.RoomPromotion.room_id).where(m.RoomPromotion.room_id == R.room_id).exists()
    query = (
        select(R.room_id, R.started_at, R.ended_at, R.reminders, promoted, *TOTAL_COLUMNS)
        .select_from(R)
        .outerjoin(V, V.room_id == R.room_id)
        .where(R.host_id == host_id, R.started_at.is_not(None))
        .group_by(R.room_id, R.started_at, R.ended_at, R.reminders)
        .order_by(R.started_at)
    )
    if before is not None:
        query = query.where(R.started_at < before)
    found = [
        Stream(row[0], row[1], row[2], Totals.of(row[5:]), int(row[3] or 0), bool(row[4]))
        for row in await session.execute(query)
    ]
    if imported:
        found += await _imported(session, host_id, before)
        found.sort(key=lambda stream: stream.started_at)
    return found


async def _imported(session: AsyncSession, host_id: int, before: datetime | None) -> list[Stream]:
    query = select(m.ImportedStream).where(m.ImportedStream.host_id == host_id)
    if before is not None:
        query = query.where(m.ImportedStream.started_at < before)
    return [
        Stream(
            0,
            row.started_at,
            row.started_at,
            Totals(uv=row.viewers, gmv=row.gmv, buyers=row.orders, orders_paid=row.orders),
            0,
            row.promotion,
        )
        for row in await session.scalars(query)
    ]


async def upcoming(session: AsyncSession, host_id: int) -> list[tuple[int, int]]:
    """(room id, reminders booked) of the host's rooms that have not gone live yet, newest first."""
    R = m.AnalyticsRoom
    query = select(R.room_id, R.reminders).where(R.host_id == host_id, R.started_at.is_(None), R.state == "scheduled")
    return [(int(a), int(b or 0)) for a, b in await session.execute(query.order_by(R.room_id.desc()))]


def epoch(session: AsyncSession, column: Any) -> Any:
    """Seconds since 1970 computed by the database: reading 100,000 datetimes through the UTC column type costs
    more than the whole rest of a report."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return func.extract("epoch", column)


async def concurrency(session: AsyncSession, room_id: int) -> tuple[int, datetime | None, dict[int, int]]:
    """(peak concurrent viewers, when, the most open views in each minute) from the view sessions: a view is open
    from its start until it ended, or 60 s after its last heartbeat."""
    W = m.AnalyticsView
    end = func.coalesce(epoch(session, W.ended_at), epoch(session, W.last_beat_at) + VIEW_TIMEOUT_SECONDS)
    query = select(epoch(session, W.started_at), end).where(W.room_id == room_id)
    rows = (await (await session.connection()).execute(query)).all()
    starts = np.fromiter((row[0] for row in rows), dtype=float, count=len(rows))
    ends = np.fromiter((row[1] for row in rows), dtype=float, count=len(rows))
    found = sweep(starts, ends)
    return found.peak, found.peak_at, found.per_minute


async def room_figures(session: AsyncSession, host_id: int) -> dict[int, RoomFigures]:
    """Viewers, watch time and reminders of each of a host's rooms, for the studio home (knowcast.ports)."""
    figures = {
        stream.room_id: RoomFigures(
            uv=stream.totals.uv, watch_minutes=int(stream.totals.watched // 60), reminders=stream.reminders
        )
        for stream in await streams_of(session, host_id)
    }
    for room_id, reminders in await upcoming(session, host_id):
        figures.setdefault(room_id, RoomFigures(reminders=reminders))
    return figures
