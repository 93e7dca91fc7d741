"""The analytics plane inside one process: the in-memory queue, the live boards, what it knows of rooms and
products, and the writer loop that flushes batches to the store (a Component).

``offer`` is synchronous, O(1) and never raises: intake and bus handlers call it and move on, so analytics can
neither slow nor break a room or a purchase. Only the writer touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter as Tally
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast import tasks
from knowcast.analytics import models as m
from knowcast.analytics.live import RoomBoard
from knowcast.analytics.records import Record
from knowcast.analytics.store import Batch, EventStore, SqlStore
from knowcast.context import AppContext
from knowcast.db.types import utcnow

if TYPE_CHECKING:
    from knowcast.analytics.ga4 import Ga4Forwarder
    from knowcast.analytics.intake import Intake

log = logging.getLogger(__name__)
FAILED_ATTEMPTS = 3  # a batch that failed this many times in a row is dropped (and counted)
MISSING_ROOM_SECONDS = 5.0
ORDERS_KEPT = 50_000
DROPS_KEPT = 10_000
HOUSEKEEPING_SECONDS = 3600.0
TAIL_LIMIT = 50_000


@dataclass
class RoomInfo:
    host_id: int
    state: str = "scheduled"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    currency: str | None = None
    reminders: int | None = None  # None: not learned by this process; written on its own (Batch.reminders)

    def row(self) -> dict[str, Any]:
        return {
            "host_id": self.host_id,
            "state": self.state,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "currency": self.currency,
        }


class AnalyticsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter("knowcast_analytics_events_total", "analytics events queued", ["kind"], registry=registry)
        self.rejected = Counter(
            "knowcast_analytics_rejected_total", "browser events refused at intake", ["reason"], registry=registry
        )
        self.dropped = Counter("knowcast_analytics_dropped_total", "events dropped (queue full)", registry=registry)
        self.failures = Counter(
            "knowcast_analytics_write_failures_total", "batches the store failed to write", registry=registry
        )


class AnalyticsRuntime:
    def __init__(
        self, ctx: AppContext, store: EventStore | None = None, registry: CollectorRegistry | None = None
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.origin = secrets.token_hex(6)  # tags this process's rows, so boards can tail the others'
        self.store: EventStore = store or SqlStore(ctx.db, ctx.settings.secret_key, self.origin)
        self.metrics = AnalyticsMetrics(registry or ctx.metrics.registry)
        self.queue: deque[Record] = deque()
        self.boards: dict[int, RoomBoard] = {}
        self.whole: set[int] = set()  # rooms whose every event this process has applied to its board
        self.rooms: dict[int, RoomInfo] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.orders: OrderedDict[int, tuple[int, str, str]] = OrderedDict()  # order → (room, visitor, channel)
        self.drops: OrderedDict[int, int] = OrderedDict()  # coupon drop → coupon (coupon.claimed names the drop)
        self.rejected: Tally[int] = Tally()  # per room since start, for the dashboard
        self.dropped = self.failures = self.written = 0
        self.lock = asyncio.Lock()  # held by a flush and by a board replay
        self._missing: dict[int, float] = {}
        self._pending = Batch()
        self._streak = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._housekept = time.monotonic()
        self.forwarder: Ga4Forwarder | None = None
        self.intake: Intake | None = None

    # ---- taking events in (synchronous, never raises) ------------------------------------------------------

    def offer(self, rec: Record) -> None:
        try:
            info = self.rooms.get(rec.room_id)
            if not rec.host_id and info is not None:
                rec.host_id = info.host_id
            board = self.boards.get(rec.room_id)
            if board is None:
                board = self.boards[rec.room_id] = RoomBoard(rec.room_id, rec.host_id)
            board.apply(rec)
        except Exception:
            log.exception("live board update failed", extra={"room_id": rec.room_id})
        if len(self.queue) >= self.settings.analytics_queue_max:
            self.dropped += 1
            self.metrics.dropped.inc()
            return
        self.queue.append(rec)
        self.metrics.events.labels(rec.kind).inc()
        if self.forwarder is not None:
            self.forwarder.offer(rec)
        if len(self.queue) >= self.settings.analytics_batch_size:
            self._wake.set()

    def reject(self, room_id: int, reason: str) -> None:
        self.metrics.rejected.labels(reason).inc()
        self.rejected[room_id] += 1
        count, _ = self._pending.rejections.get((room_id, reason), (0, utcnow()))
        self._pending.rejections[(room_id, reason)] = (count + 1, utcnow())

    def note_room(self, room_id: int, host_id: int, state: str | None = None, at: datetime | None = None) -> None:
        info = self.rooms.get(room_id)
        if info is None:
            info = self.rooms[room_id] = RoomInfo(host_id=host_id)
            if state is None and room_id not in self.boards:  # created here: this process sees it all
                self.whole.add(room_id)
        info.host_id = host_id or info.host_id
        if state == "live" and info.started_at is None:
            info.started_at = at
        elif state == "ended":
            info.ended_at = at
        info.state = state or info.state
        self._missing.pop(room_id, None)
        self._pending.rooms[room_id] = info.row()

    async def note_reminders(self, room_id: int, host_id: int, count: int) -> None:
        """Reminders booked for a room (预约), as growth counts them. Only bookings made before the room went live
        count: a cancellation during or after the stream does not change what the audience was told."""
        info = await self.room_info(room_id)
        if info is None:
            self.note_room(room_id, host_id)
            info = self.rooms[room_id]
        if info.state in ("live", "reconnecting", "ended"):
            return
        info.reminders = self._pending.reminders[room_id] = max(0, count)

    def note_drop(self, drop_id: int, coupon_id: int) -> None:
        self.drops[drop_id] = coupon_id
        while len(self.drops) > DROPS_KEPT:
            self.drops.popitem(last=False)

    def note_product(self, product: dict[str, Any]) -> None:
        product_id = product.get("id")
        if not isinstance(product_id, int):
            return
        info = {
            "host_id": int(product.get("host_id") or 0),
            "title": str(product.get("title") or "")[:120],
            "kind": str(product.get("kind") or "")[:16],
            "price": int(product.get("price") or 0),
        }
        if self.products.get(product_id) != info:
            self.products[product_id] = info
            self._pending.products[product_id] = info

    def note_order(self, order_id: int, room_id: int, visitor: str, channel: str) -> None:
        self.orders[order_id] = (room_id, visitor, channel)
        while len(self.orders) > ORDERS_KEPT:
            self.orders.popitem(last=False)

    def detach(self, visitor: str, user_key: str | None, user_id: int | None) -> None:
        self._pending.detach.append((visitor, user_key, user_id))
        self._wake.set()

    def spawn(self, job: Coroutine[Any, Any, Any]) -> None:
        """Run a small job (an order's attribution) beside the caller; it is awaited at stop."""
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the small jobs in flight (order attributions)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- reading -----------------------------------------------------------------------------------------

    async def learn_products(self, session: AsyncSession, product_ids: list[int]) -> None:
        """Titles and kinds of products this process has not seen on a shelf since it started."""
        missing = [pid for pid in product_ids if pid not in self.products]
        if missing:
            for row in await session.scalars(
                select(m.AnalyticsProduct).where(m.AnalyticsProduct.product_id.in_(missing))
            ):
                self.products[row.product_id] = {
                    "host_id": row.host_id,
                    "title": row.title,
                    "kind": row.kind,
                    "price": row.price,
                }

    def kinds(self) -> dict[int, str]:
        return {pid: str(p["kind"]) for pid, p in self.products.items() if p.get("kind")}

    def room_info_cached(self, room_id: int) -> RoomInfo | None:
        return self.rooms.get(room_id)

    async def room_info(self, room_id: int) -> RoomInfo | None:
        """What analytics knows of a room (memory, else its table); None for a room it never heard of."""
        info = self.rooms.get(room_id)
        if info is not None:
            return info
        if self._missing.get(room_id, 0.0) > time.monotonic():
            return None
        async with self.ctx.db.session() as session:
            row = await session.get(m.AnalyticsRoom, room_id)
        if row is None:
            self._missing[room_id] = time.monotonic() + MISSING_ROOM_SECONDS
            while len(self._missing) > 10_000:
                self._missing.pop(next(iter(self._missing)))
            return None
        info = RoomInfo(row.host_id, row.state, row.started_at, row.ended_at, row.currency, row.reminders)
        self.rooms[room_id] = info
        return info

    async def board(self, room_id: int) -> RoomBoard:
        """The room's live board; rebuilt from the store first when this process did not see all its events.
        With several processes (scaled mode) it also takes the events the others stored since the last read."""
        board = self.boards.get(room_id)
        if board is not None and room_id in self.whole:
            if self.settings.redis_url:
                await self._tail(board)
            return board
        info = await self.room_info(room_id)
        async with self.lock:
            if room_id in self.whole and room_id in self.boards:  # another reader rebuilt it meanwhile
                return self.boards[room_id]
            fresh = RoomBoard(room_id, info.host_id if info else 0)
            async with self.ctx.db.session() as session:
                query = (
                    select(m.AnalyticsEvent).where(m.AnalyticsEvent.room_id == room_id).order_by(m.AnalyticsEvent.id)
                )
                rows = await session.stream_scalars(query.execution_options(yield_per=5000))
                async for row in rows:
                    fresh.apply(Record.from_row(row, fresh.host_id))
                    fresh.tail_id = row.id
            for rec in self.queue:
                if rec.room_id == room_id:
                    fresh.apply(rec)
            self.boards[room_id] = fresh
            self.whole.add(room_id)
        return fresh

    async def _tail(self, board: RoomBoard) -> None:
        """Apply the room's events that other processes stored after the board's last one. (PostgreSQL can
        commit ids out of order; an event committed late behind a newer id is missed by the live board only.)"""
        E = m.AnalyticsEvent
        query = (
            select(E)
            .where(E.room_id == board.room_id, E.id > board.tail_id, (E.origin != self.origin) | E.origin.is_(None))
            .order_by(E.id)
            .limit(TAIL_LIMIT)
        )
        async with self.ctx.db.session() as session:
            for row in await session.scalars(query):
                board.apply(Record.from_row(row, board.host_id))
                board.tail_id = row.id

    # ---- the writer (Component) --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="analytics-writer")

    async def stop(self) -> None:
        await tasks.cancel(self._loop)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.analytics_flush_seconds)
            self._wake.clear()
            await self.flush()
            if time.monotonic() - self._housekept > HOUSEKEEPING_SECONDS:
                self._housekept = time.monotonic()
                await self.housekeeping()

    async def housekeeping(self) -> None:
        from knowcast.analytics import retention

        try:
            async with self.ctx.db.session() as session:
                await retention.purge(session, self.settings.analytics_retention_days)
        except Exception:
            log.exception("analytics retention failed")

    def _take(self) -> Batch:
        batch, self._pending = self._pending, Batch()
        size = self.settings.analytics_batch_size
        while self.queue and len(batch.records) < size:
            batch.records.append(self.queue.popleft())
        return batch

    async def flush(self) -> int:
        """Write what is queued (one batch per call); returns how many events were written."""
        async with self.lock:
            batch = self._take()
            if not len(batch):
                return 0
            try:
                await self.store.write(batch, self.kinds())
            except Exception:
                self._failed(batch)
                return 0
            self._streak = 0
            self.written += len(batch.records)
            if len(self.queue) >= self.settings.analytics_batch_size:
                self._wake.set()  # a full batch waits: write it now; a partial one waits for the next round (a
                # writer that went again for what arrived during a write wrote a storm's events a few at a time)
            return len(batch.records)

    def _failed(self, batch: Batch) -> None:
        self.failures += 1
        self._streak += 1
        self.metrics.failures.inc()
        log.exception("analytics batch not written", extra={"events": len(batch.records), "attempt": self._streak})
        if self._streak >= FAILED_ATTEMPTS:
            self._streak = 0
            self.dropped += len(batch.records)
            self.metrics.dropped.inc(len(batch.records))
            return
        self.queue.extendleft(reversed(batch.records))
        for key, (count, at) in batch.rejections.items():
            old, _ = self._pending.rejections.get(key, (0, at))
            self._pending.rejections[key] = (old + count, at)
        self._pending.rooms = {**batch.rooms, **self._pending.rooms}
        self._pending.products = {**batch.products, **self._pending.products}
        self._pending.reminders = {**batch.reminders, **self._pending.reminders}
        self._pending.detach = batch.detach + self._pending.detach


def install(ctx: AppContext) -> AnalyticsRuntime:
    """Build the runtime, subscribe it to the bus, hang it on the context and register it as a Component."""
    from knowcast.analytics import facts_read, privacy, service, subscriber
    from knowcast.analytics.assignment import AnalyticsExperiments
    from knowcast.analytics.ga4 import install_forwarder
    from knowcast.analytics.intake import Intake

    runtime = AnalyticsRuntime(ctx)
    runtime.intake = Intake(runtime)
    ctx.provide(runtime)
    ctx.experiments = AnalyticsExperiments(ctx)
    ctx.audiences.register("segment", service.audience_user_ids)
    ctx.exporters.append(privacy.export_personal_data)
    ctx.room_figures = facts_read.room_figures
    subscriber.subscribe(ctx.bus, runtime)
    ctx.components.append(runtime)
    install_forwarder(ctx, runtime)
    return runtime
