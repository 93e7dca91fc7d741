"""Where batches of analytics events go: a small base class and the SQL store (SQLite or PostgreSQL).

One batch is one transaction: the raw events, the registry of rooms and products, the facts, rejections and
detachments. A store that fails raises; the writer retries and, at worst, drops the batch and counts it. It
never reaches a purchase or a chat message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.analytics import records as r
from knowcast.analytics.facts import Facts
from knowcast.analytics.records import Record
from knowcast.analytics.rows import insert_many
from knowcast.analytics.upsert import Merge, Upserts, table_of
from knowcast.db.engine import Database
from knowcast.db.types import utcnow

EVENT_CHUNK = 5000
EVENT_COLUMNS = (*Record(kind="", room_id=0, at=utcnow()).row(), "origin")  # what each raw event row holds
ROOMS = Merge(keys=("room_id",), replace=("host_id", "state", "started_at", "ended_at", "currency"))
PRODUCTS = Merge(keys=("product_id",), replace=("host_id", "title", "kind", "price"))
REJECTIONS = Merge(keys=("room_id", "reason"), add=("count",), greatest=("last_at",))


@dataclass
class Batch:
    records: list[Record] = field(default_factory=list)
    rooms: dict[int, dict[str, Any]] = field(default_factory=dict)
    reminders: dict[int, int] = field(default_factory=dict)  # room → bookings before it went live
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejections: dict[tuple[int, str], tuple[int, datetime]] = field(default_factory=dict)
    detach: list[tuple[str, str | None, int | None]] = field(default_factory=list)  # (visitor, user key, user id)

    def __len__(self) -> int:
        registry = len(self.rooms) + len(self.reminders) + len(self.products)
        return len(self.records) + registry + len(self.rejections) + len(self.detach)


class EventStore:
    """Writes batches. Subclasses only do I/O."""

    async def write(self, batch: Batch, kinds: Mapping[int, str]) -> None:
        raise NotImplementedError


class SqlStore(EventStore):
    def __init__(self, db: Database, secret: str, origin: str | None = None) -> None:
        self.db = db
        self.secret = secret
        self.origin = origin

    async def write(self, batch: Batch, kinds: Mapping[int, str]) -> None:
        async with self.db.session() as session:
            await self._registry(session, batch)
            await write_records(session, batch.records, kinds, self.origin)
            await self._rejections(session, batch)
            for visitor, user_key, user_id in batch.detach:
                await detach(session, visitor, user_key, user_id, self.secret)
            await session.commit()

    async def _registry(self, session: AsyncSession, batch: Batch) -> None:
        rooms = Upserts(table_of(m.AnalyticsRoom), ROOMS)
        for room_id, info in batch.rooms.items():
            rooms.put({"room_id": room_id, **info})
        products = Upserts(table_of(m.AnalyticsProduct), PRODUCTS)
        for product_id, info in batch.products.items():
            products.put({"product_id": product_id, **info})
        await rooms.write(session)
        await products.write(session)
        if batch.reminders:  # after the rooms: their rows exist; only a count that was learned is written
            table = table_of(m.AnalyticsRoom)
            stmt = update(table).where(table.c.room_id == _param("r")).values(reminders=_param("n"))
            await session.execute(stmt, [{"r": room, "n": n} for room, n in batch.reminders.items()])

    async def _rejections(self, session: AsyncSession, batch: Batch) -> None:
        table = Upserts(table_of(m.Rejection), REJECTIONS)
        for (room_id, reason), (count, at) in batch.rejections.items():
            table.put({"room_id": room_id, "reason": reason, "count": count, "last_at": at})
        await table.write(session)


async def write_records(
    session: AsyncSession, records: list[Record], kinds: Mapping[int, str], origin: str | None = None
) -> None:
    """The raw events and every fact they change (no commit: the caller's transaction)."""
    if not records:
        return
    rows = [{**rec.row(), "origin": origin} for rec in records if rec.kind != r.EXPOSURE]
    for start in range(0, len(rows), EVENT_CHUNK):  # no RETURNING of ids: one driver call per chunk
        await insert_many(session, table_of(m.AnalyticsEvent), EVENT_COLUMNS, rows[start : start + EVENT_CHUNK])
    facts = Facts(kinds)
    for rec in records:
        facts.add(rec)
    await _variant_conversions(session, facts)
    for table in facts.tables():
        await table.write(session)
    if facts.conversions:
        exposures = table_of(m.Exposure)
        await session.execute(
            update(exposures)
            .where(exposures.c.visitor == _param("v"), exposures.c.host_id == _param("h"))
            .where(exposures.c.first_at <= _param("at"))
            .values(conversions=exposures.c.conversions + 1, revenue=exposures.c.revenue + _param("amount")),
            facts.conversions,
        )


async def _variant_conversions(session: AsyncSession, facts: Facts) -> None:
    """Paid orders that name their variants ({experiment key: variant}, stamped by commerce) convert in exactly
    those experiments, in the variant the buyer was shown, exposed or not before (an upsert)."""
    if not facts.variant_conversions:
        return
    keys = {key for rec in facts.variant_conversions for key in rec.variants or {}}
    X = m.Experiment
    found = await session.execute(select(X.key, X.id, X.host_id).where(X.key.in_(keys)))
    ids = {key: (experiment_id, host_id) for key, experiment_id, host_id in found}
    for rec in facts.variant_conversions:
        for key, variant in (rec.variants or {}).items():
            experiment_id, host_id = ids.get(key, (None, None))
            if experiment_id is None or (rec.host_id and host_id != rec.host_id):
                continue
            row = {"experiment_id": experiment_id, "visitor": rec.visitor, "host_id": host_id, "variant": variant}
            facts.converted.put({**row, "first_at": rec.at, "conversions": 1, "revenue": rec.amount})


def _param(name: str) -> Any:
    return bindparam(name)


def anonymous(visitor: str, secret: str) -> str:
    return "d:" + hashlib.sha256(f"{secret}\n{visitor}".encode()).hexdigest()[:32]


async def detach(session: AsyncSession, visitor: str, user_key: str | None, user_id: int | None, secret: str) -> None:
    """A deleted account's analytics: the visitor id becomes an unlinkable one; account links are cut."""
    new = anonymous(visitor, secret)
    for model in (m.AnalyticsEvent, m.AnalyticsView, m.RoomVisitor, m.Touch, m.Interest, m.Exposure):
        table = table_of(model)
        await session.execute(update(table).where(table.c.visitor == visitor).values(visitor=new))
    events = table_of(m.AnalyticsEvent)
    await session.execute(update(events).where(events.c.visitor == new).values(data=None))  # drops the account key
    if user_id is not None:
        await session.execute(update(events).where(events.c.user_id == user_id).values(user_id=None))
    if user_key is not None:
        views, visitors = table_of(m.AnalyticsView), table_of(m.RoomVisitor)
        await session.execute(update(views).where(views.c.user_key == user_key).values(user_key=None))
        await session.execute(update(visitors).where(visitors.c.buyer_key == user_key).values(buyer_key=None))
        buyers = table_of(m.RoomProductBuyer)  # still one buyer of each product, no longer linkable
        unlinked = anonymous(user_key, secret)[:40]
        await session.execute(update(buyers).where(buyers.c.buyer == user_key).values(buyer=unlinked))
