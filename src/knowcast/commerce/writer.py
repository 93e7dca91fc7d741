"""Group commit for flash-sale wins: the claims the gate let through are written in batches, one transaction
per batch, and each buyer is told "won" only after the transaction holding their order has committed.

The batch logic is plain synchronous SQLAlchemy. On PostgreSQL it runs through the async session's
``run_sync``; on SQLite it runs in a worker thread on a synchronous connection, so a whole batch costs the
busy event loop one hand-off instead of one per statement (aiosqlite hands every statement to its thread).

Within the transaction every claim is confirmed by the database itself: the per-user counter and
``flash_sales.stock_left`` change only by conditional UPDATEs, so the database refuses a unit the gate should
not have let through. If a batch fails as a whole (an idempotency key used twice, say), its claims are
written again one by one, so one bad claim never costs the others their order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from knowcast import tasks
from knowcast.catalog.kinds import ProductKind
from knowcast.commerce.counters import sale_scope
from knowcast.commerce.flash_gate import Claim, Outcome
from knowcast.commerce.models import Order, OrderItem, PurchaseCounter
from knowcast.commerce.promotions import FlashSale
from knowcast.commerce.states import OrderState
from knowcast.db.engine import SQLITE_BUSY_TIMEOUT_MS, Database
from knowcast.db.types import utcnow

log = logging.getLogger(__name__)


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The same per-connection settings as the app's async engine (knowcast.db.engine)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class SaleInfo:
    """What an attempt needs to know about a sale, cached per process."""

    sale_id: int
    version: int
    room_id: int
    host_id: int
    product_id: int
    product_kind: ProductKind
    title: str
    price: int
    currency: str
    per_user_limit: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Win:
    claim: Claim
    sale: SaleInfo
    hold_seconds: int
    idempotency_key: str | None
    room_id: int | None


@dataclass(slots=True)
class Written:
    outcome: Outcome
    order: Order | None = None
    duplicate: bool = False  # the idempotency key had already made this order


@dataclass
class FlashWriter:
    db: Database
    _queue: list[tuple[Win, asyncio.Future[Written]]] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _sync_engine: Engine | None = None
    batches: int = 0

    def __post_init__(self) -> None:
        if self.db.dialect == "sqlite":
            self._sync_engine = create_engine(self.db.url.replace("+aiosqlite", ""), poolclass=NullPool)
            event.listen(self._sync_engine, "connect", sqlite_pragmas)

    async def submit(self, win: Win) -> Written:
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._queue.append((win, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="flash-writer")
        return await future

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                wins = [win for win, _ in batch]
                self.batches += 1
                results = await self._execute(wins)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    async def _execute(self, wins: list[Win]) -> list[Written | BaseException]:
        if self._sync_engine is not None:
            engine = self._sync_engine
            return await asyncio.to_thread(lambda: write_all(lambda: Session(engine), wins))
        try:
            async with self.db.session() as session:
                results: list[Written | BaseException] = list(await session.run_sync(write_batch, wins))
                await session.commit()
                return results
        except Exception:
            log.info("flash batch failed; writing its claims one by one", exc_info=True)
        out: list[Written | BaseException] = []
        for win in wins:
            try:
                async with self.db.session() as session:
                    out.append(await session.run_sync(write_one, win))
            except Exception as exc:
                out.append(exc)
        return out


def write_all(new_session: Callable[[], Session], wins: list[Win]) -> list[Written | BaseException]:
    """One transaction for the batch; if it fails as a whole, one transaction per claim."""
    try:
        with new_session() as session:
            results: list[Written | BaseException] = list(write_batch(session, wins))
            session.commit()
            return results
    except Exception:
        log.info("flash batch failed; writing its claims one by one", exc_info=True)
    out: list[Written | BaseException] = []
    for win in wins:
        try:
            with new_session() as session:
                out.append(write_one(session, win))
        except Exception as exc:
            out.append(exc)
    return out


def write_one(session: Session, win: Win) -> Written:
    """One claim in its own transaction (commits); a repeated idempotency key returns the earlier order."""
    try:
        result = write_win(session, win)
        session.commit()
        return result
    except IntegrityError:
        session.rollback()
        return _existing(session, win)


def _existing(session: Session, win: Win) -> Written:
    """The idempotency key already made an order: that order is this attempt's answer."""
    order = session.scalar(
        select(Order).where(Order.user_id == win.claim.user_id, Order.idempotency_key == win.idempotency_key)
    )
    if order is None or order.flash_sale_id != win.sale.sale_id:
        raise LookupError("idempotency key belongs to another order")
    return Written(Outcome.WON, order, duplicate=True)


def write_batch(session: Session, wins: list[Win]) -> list[Written]:
    """Confirm a batch in a handful of set-based statements; claim by claim when the set cannot all pass.

    Per sale: one conditional UPDATE takes the batch's units at once, one conditional UPDATE adds one unit per
    buyer under their limit (checking the row count), and the orders and their items are inserted in bulk.
    If the database refuses any part (the gate was ahead of it, a buyer is at their limit, a buyer appears
    twice), the batch is rolled back and written claim by claim instead, in the same transaction.
    Does not commit.
    """
    by_sale: dict[int, list[Win]] = {}
    for win in wins:
        by_sale.setdefault(win.sale.sale_id, []).append(win)
    written: dict[str, Written] = {}
    for sale_wins in by_sale.values():
        if not _write_set(session, sale_wins, written):
            session.rollback()
            return [write_win(session, win) for win in wins]
    return [written[win.claim.claim_id] for win in wins]


def _write_set(session: Session, wins: list[Win], out: dict[str, Written]) -> bool:
    sale, users = wins[0].sale, [win.claim.user_id for win in wins]
    if len(set(users)) != len(users) or any(win.claim.quantity != 1 for win in wins):
        return False
    taken = session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale.sale_id, FlashSale.stock_left >= len(wins))
        .values(stock_left=FlashSale.stock_left - len(wins))
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        return False
    if not _take_counters(session, sale_scope(sale.sale_id), users, 1, sale.per_user_limit):
        return False
    # executemany without RETURNING, then one SELECT for the ids: a few round trips for the whole batch
    now = utcnow()
    rows = [_order_row(win, now) for win in wins]
    session.execute(insert(Order), rows)
    claim_ids = [win.claim.claim_id for win in wins]
    ids = dict(session.execute(select(Order.claim_id, Order.id).where(Order.claim_id.in_(claim_ids))).tuples().all())
    session.execute(insert(OrderItem), [_item_row(ids[win.claim.claim_id], win) for win in wins])
    for row, win in zip(rows, wins, strict=True):
        out[win.claim.claim_id] = Written(Outcome.WON, Order(id=ids[win.claim.claim_id], **row))
    return True


def _take_counters(session: Session, scope: str, users: list[int], quantity: int, limit: int) -> bool:
    """``quantity`` more for each of these distinct users, all or nothing (checked by the row count)."""
    rows = [{"scope": scope, "user_id": user_id, "count": 0} for user_id in users]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(PurchaseCounter).values(rows).on_conflict_do_nothing())
    result = session.execute(
        update(PurchaseCounter)
        .where(
            PurchaseCounter.scope == scope,
            PurchaseCounter.user_id.in_(users),
            PurchaseCounter.count + quantity <= limit,
        )
        .values(count=PurchaseCounter.count + quantity)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == len(users))  # type: ignore[attr-defined]


def _order_row(win: Win, now: datetime) -> dict[str, Any]:
    claim, sale = win.claim, win.sale
    total = sale.price * claim.quantity
    return {
        "user_id": claim.user_id,
        "host_id": sale.host_id,
        "room_id": win.room_id or sale.room_id,
        "state": OrderState.PENDING,
        "currency": sale.currency,
        "subtotal": total,
        "discount": 0,
        "total": total,
        "flash_sale_id": sale.sale_id,
        "idempotency_key": win.idempotency_key,
        "claim_id": claim.claim_id,
        "source": "flash",
        "reserved_until": now + timedelta(seconds=win.hold_seconds),
        "created_at": now,
        "updated_at": now,
    }


def _item_row(order_id: int, win: Win) -> dict[str, Any]:
    sale = win.sale
    return {
        "order_id": order_id,
        "product_id": sale.product_id,
        "kind": sale.product_kind,
        "title": sale.title,
        "quantity": win.claim.quantity,
        "unit_price": sale.price,
    }


def write_win(session: Session, win: Win) -> Written:
    """Confirm one claim in the database and write its pending order. Does not commit."""
    claim, sale = win.claim, win.sale
    if not _take_counters(session, sale_scope(sale.sale_id), [claim.user_id], claim.quantity, sale.per_user_limit):
        return Written(Outcome.LIMIT_REACHED)
    taken = session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale.sale_id, FlashSale.stock_left >= claim.quantity)
        .values(stock_left=FlashSale.stock_left - claim.quantity)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        session.execute(
            update(PurchaseCounter)
            .where(PurchaseCounter.scope == sale_scope(sale.sale_id), PurchaseCounter.user_id == claim.user_id)
            .values(count=PurchaseCounter.count - claim.quantity)
            .execution_options(synchronize_session=False)
        )
        return Written(Outcome.SOLD_OUT)
    now = utcnow()
    row = _order_row(win, now)
    session.execute(insert(Order), [row])
    order_id = session.scalar(select(Order.id).where(Order.claim_id == claim.claim_id))
    assert order_id is not None
    session.execute(insert(OrderItem), [_item_row(order_id, win)])
    return Written(Outcome.WON, Order(id=order_id, **row))
