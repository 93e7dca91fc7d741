"""Group commit for flash-sale wins: the claims the gate let through are written in batches, one transaction
per batch, and each buyer is told "won" only after the transaction holding their order has committed.

Within the transaction every claim is confirmed by the database itself: the per-user counter and
``flash_sales.stock_left`` change only by conditional UPDATEs, so the database refuses a unit the gate should
not have let through. If a batch fails as a whole (an idempotency key used twice, say), its claims are
written again one by one, so one bad claim never costs the others their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.catalog.kinds import ProductKind
from knowcast.commerce import counters
from knowcast.commerce.gate import Claim, Outcome
from knowcast.commerce.models import Order, OrderItem
from knowcast.commerce.promotions import FlashSale
from knowcast.db.engine import Database
from knowcast.db.types import utcnow

log = logging.getLogger(__name__)
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
    batches: int = 0

    async def submit(self, win: Win) -> Written:
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._queue.append((win, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="flash-writer")
        return await future

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._write(batch)

    async def _write(self, batch: list[tuple[Win, asyncio.Future[Written]]]) -> None:
        self.batches += 1
        try:
            async with self.db.session() as session:
                results = [await write_win(session, win) for win, _ in batch]
                await session.commit()
        except Exception:
            log.info("flash batch failed; writing its claims one by one", exc_info=True)
            for win, future in batch:
                await self._write_one(win, future)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _write_one(self, win: Win, future: asyncio.Future[Written]) -> None:
        try:
            async with self.db.session() as session:
                try:
                    result = await write_win(session, win)
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                    result = await _existing(session, win)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)


async def _existing(session: AsyncSession, win: Win) -> Written:
    """The idempotency key already made an order: that order is this attempt's answer."""
    order = await session.scalar(
        select(Order).where(Order.user_id == win.claim.user_id, Order.idempotency_key == win.idempotency_key)
    )
    if order is None or order.flash_sale_id != win.sale.sale_id:
        raise LookupError("idempotency key belongs to another order")
    return Written(Outcome.WON, order, duplicate=True)


async def write_win(session: AsyncSession, win: Win) -> Written:
    """Confirm one claim in the database and write its pending order. Does not commit."""
    claim, sale = win.claim, win.sale
    scope = counters.sale_scope(sale.sale_id)
    if not await counters.take(session, scope, claim.user_id, claim.quantity, sale.per_user_limit):
        return Written(Outcome.LIMIT_REACHED)
    taken = await session.execute(
        update(FlashSale)
        .where(FlashSale.id == sale.sale_id, FlashSale.stock_left >= claim.quantity)
        .values(stock_left=FlashSale.stock_left - claim.quantity)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        await counters.give_back(session, scope, claim.user_id, claim.quantity)
        return Written(Outcome.SOLD_OUT)
    total = sale.price * claim.quantity
    order = Order(
        user_id=claim.user_id,
        host_id=sale.host_id,
        room_id=win.room_id or sale.room_id,
        currency=sale.currency,
        subtotal=total,
        discount=0,
        total=total,
        flash_sale_id=sale.sale_id,
        idempotency_key=win.idempotency_key,
        claim_id=claim.claim_id,
        source="flash",
        reserved_until=utcnow() + timedelta(seconds=win.hold_seconds),
    )
    session.add(order)
    await session.flush()
    session.add(
        OrderItem(
            order_id=order.id,
            product_id=sale.product_id,
            kind=sale.product_kind,
            title=sale.title,
            quantity=claim.quantity,
            unit_price=sale.price,
        )
    )
    return Written(Outcome.WON, order)
