"""Flash sales: schedule or start one on a shelf product, and sell it to a crowd.

An attempt runs: sale info from a per-process cache → the gate (memory or Redis; answers losers without the
database) → for a win, the batch writer, which confirms the claim in the database with conditional UPDATEs
and commits the order before the buyer hears "won". The database's ``stock_left`` is the truth; see flash_gate.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.bus import Event
from knowcast.catalog import service as catalog
from knowcast.catalog.models import Product
from knowcast.commerce import announce, counters, order_events, orders, returns
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.flash_gate import Claim, Outcome, SaleKey
from knowcast.commerce.models import Order, ShelfItem
from knowcast.commerce.promotions import FlashSale
from knowcast.commerce.redis_gate import GateNotLoaded
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.schemas import FlashSaleCreate, FlashSaleOut, ItemOut, OrderOut
from knowcast.commerce.writer import SaleInfo, Win
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound
from knowcast.rooms.models import Room

log = logging.getLogger(__name__)
CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    order: Order | None = None
    summary: OrderOut | None = None


def summary(order: Order, info: SaleInfo, quantity: int = 1) -> OrderOut:
    """The won order as the buyer sees it, built without another database round trip."""
    item = ItemOut(
        product_id=info.product_id,
        kind=info.product_kind,
        title=info.title,
        quantity=quantity,
        unit_price=info.price,
        slot_id=None,
    )
    return orders.order_view(order, [item])


def sale_key(sale: FlashSale | SaleInfo) -> SaleKey:
    if isinstance(sale, SaleInfo):
        return SaleKey(sale.sale_id, sale.version)
    return SaleKey(sale.id, int(sale.created_at.timestamp() * 1_000_000))


def status_of(sale: FlashSale | SaleInfo) -> str:
    now = utcnow()
    if now < sale.starts_at:
        return "scheduled"
    return "running" if now < sale.ends_at else "ended"


# ---- the host's side --------------------------------------------------------------------------------------


async def create_sale(session: AsyncSession, ctx: AppContext, room: Room, data: FlashSaleCreate) -> FlashSale:
    on_shelf = await session.scalar(
        select(ShelfItem.id).where(ShelfItem.room_id == room.id, ShelfItem.product_id == data.product_id)
    )
    if on_shelf is None:
        raise Conflict("put the product on this room's shelf first", code=CommerceCode.FLASH_NOT_ON_SHELF)
    product = await catalog.get_product(session, data.product_id)
    if data.price > product.price:
        raise Conflict("a flash sale price is at most the normal price", code=CommerceCode.FLASH_PRICE_ABOVE_NORMAL)
    if not await catalog.take_stock(session, product.id, data.stock):
        raise Conflict("the product has less stock than the sale needs", code=CommerceCode.FLASH_INSUFFICIENT_STOCK)
    starts = data.starts_at or utcnow()
    sale = FlashSale(
        room_id=room.id,
        product_id=product.id,
        price=data.price,
        currency=product.currency,
        stock_total=data.stock,
        stock_left=data.stock,
        per_user_limit=data.per_user_limit,
        starts_at=starts,
        ends_at=starts + timedelta(seconds=data.duration_seconds),
        program_time=data.program_time or starts,
    )
    session.add(sale)
    await session.commit()
    out = await sale_out(session, sale)
    await ctx.bus.publish(
        Event(
            "flash.scheduled",
            {
                "room_id": room.id,
                **announce.system(
                    ctx, "flash", title=out.product_title, price=out.price, currency=out.currency, stock=out.stock_total
                ),
                "sale": out.model_dump(mode="json"),
            },
            to_room=True,
            system=True,
        )
    )
    return sale


async def stop_sale(session: AsyncSession, ctx: AppContext, sale: FlashSale) -> FlashSale:
    if sale.ends_at > utcnow():
        sale.ends_at = utcnow()
        await session.commit()
    ctx.runtime(CommerceRuntime).sales.pop(sale.id, None)
    await ctx.bus.publish(Event("flash.ended", {"room_id": sale.room_id, "sale_id": sale.id}, to_room=True))
    await close(session, ctx, sale.id)
    await session.refresh(sale)
    return sale


async def close(session: AsyncSession, ctx: AppContext, sale_id: int) -> bool:
    """An ended sale's unsold units go back to the product (returns.close_sale); its gate state is dropped.
    False when it was closed already."""
    sale = await session.get(FlashSale, sale_id)
    if sale is None or await returns.close_sale(session, sale_id) is None:
        return False
    await ctx.runtime(CommerceRuntime).gate.forget(sale_key(sale))
    return True


async def close_ended(session: AsyncSession, ctx: AppContext) -> int:
    """Close every sale whose time is up (the sweeper calls this). Returns how many."""
    due = list(
        await session.scalars(
            select(FlashSale.id).where(FlashSale.closed_at.is_(None), FlashSale.ends_at <= utcnow()).limit(50)
        )
    )
    return sum([await close(session, ctx, sale_id) for sale_id in due])


async def get_sale(session: AsyncSession, sale_id: int) -> FlashSale:
    sale = await session.get(FlashSale, sale_id)
    if sale is None:
        raise NotFound("no such flash sale", code=CommerceCode.FLASH_NOT_FOUND)
    return sale


async def sales_of_room(session: AsyncSession, room_id: int) -> list[FlashSale]:
    query = select(FlashSale).where(FlashSale.room_id == room_id).order_by(FlashSale.starts_at.desc())
    return list(await session.scalars(query))


async def current_sale(session: AsyncSession, room_id: int) -> FlashSale | None:
    """The running sale, else the next scheduled one (what a viewer arriving now should see)."""
    now = utcnow()
    query = select(FlashSale).where(FlashSale.room_id == room_id, FlashSale.ends_at > now)
    sale: FlashSale | None = await session.scalar(query.order_by(FlashSale.starts_at).limit(1))
    return sale


async def sale_out(session: AsyncSession, sale: FlashSale, ctx: AppContext | None = None) -> FlashSaleOut:
    product = await session.get(Product, sale.product_id)
    assert product is not None
    left = sale.stock_left
    if ctx is not None:  # the gate knows sooner than the database row
        gate_left = await ctx.runtime(CommerceRuntime).gate.stock_left(sale_key(sale))
        left = min(left, gate_left) if gate_left is not None else left
    return FlashSaleOut(
        id=sale.id,
        room_id=sale.room_id,
        product_id=sale.product_id,
        product_title=product.title,
        price=sale.price,
        list_price=product.list_price or product.price,
        currency=sale.currency,
        stock_total=sale.stock_total,
        stock_left=max(0, left),
        stock_returned=sale.stock_returned,
        per_user_limit=sale.per_user_limit,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        program_time=sale.program_time,
        status=status_of(sale),
    )


# ---- the buyer's side: the hot path -----------------------------------------------------------------------


async def sale_info(ctx: AppContext, sale_id: int) -> SaleInfo:
    """The sale as the hot path needs it, from a per-process cache refreshed every CACHE_SECONDS; one load
    at a time per sale, so a crowd arriving together makes one database read, not one each."""
    rt = ctx.runtime(CommerceRuntime)
    cached = rt.sales.get(sale_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    async with rt.load_locks.setdefault(-sale_id, asyncio.Lock()):
        cached = rt.sales.get(sale_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        info = await _load_info(ctx, sale_id)
    rt.sales[sale_id] = (time.monotonic() + CACHE_SECONDS, info)
    return info


async def _load_info(ctx: AppContext, sale_id: int) -> SaleInfo:
    async with ctx.db.session() as session:
        sale = await get_sale(session, sale_id)
        product = await session.get(Product, sale.product_id)
        assert product is not None
        info = SaleInfo(
            sale_id=sale.id,
            version=sale_key(sale).version,
            room_id=sale.room_id,
            host_id=product.host_id,
            product_id=product.id,
            product_kind=product.kind,
            title=product.title,
            price=sale.price,
            currency=sale.currency,
            per_user_limit=sale.per_user_limit,
            starts_at=sale.starts_at,
            ends_at=sale.ends_at,
        )
    return info


async def _ensure_gate(ctx: AppContext, info: SaleInfo, force: bool = False) -> None:
    rt = ctx.runtime(CommerceRuntime)
    key = sale_key(info)
    if not force and await rt.gate.is_loaded(key):
        return
    lock = rt.load_locks.setdefault(info.sale_id, asyncio.Lock())
    async with lock:
        if not force and await rt.gate.is_loaded(key):
            return
        async with ctx.db.session() as session:
            sale = await get_sale(session, info.sale_id)
            held = await counters.counts(session, counters.sale_scope(info.sale_id))
            ttl = int((sale.ends_at - utcnow()).total_seconds()) + 86400
            await rt.gate.load(key, sale.stock_left, held, max(ttl, 3600))


async def warm(ctx: AppContext, sale_id: int) -> None:
    """Load the sale and its gate ahead of the crowd (a viewer's page opening does this)."""
    await _ensure_gate(ctx, await sale_info(ctx, sale_id))


async def attempt(
    ctx: AppContext, user_id: int, sale_id: int, quantity: int, idempotency_key: str | None, room_id: int | None
) -> AttemptResult:
    """One buyer's try. Always a definite answer: won (with the order), sold out, or limit reached."""
    info = await sale_info(ctx, sale_id)
    now = utcnow()
    if now < info.starts_at:
        raise Conflict("the flash sale has not started", code=CommerceCode.FLASH_NOT_STARTED)
    if now >= info.ends_at:
        raise Conflict("the flash sale has ended", code=CommerceCode.FLASH_ENDED)
    if quantity > info.per_user_limit:
        return AttemptResult(Outcome.LIMIT_REACHED)
    rt = ctx.runtime(CommerceRuntime)
    await _ensure_gate(ctx, info)
    claim = Claim(secrets.token_hex(12), sale_key(info), user_id, quantity, info.per_user_limit)
    try:
        outcome = await rt.gate.take(claim)
    except GateNotLoaded:
        await _ensure_gate(ctx, info, force=True)
        outcome = await rt.gate.take(claim)
    if outcome is Outcome.LIMIT_REACHED and idempotency_key:
        return await _replayed(ctx, user_id, sale_id, idempotency_key)
    if outcome is not Outcome.WON:
        return AttemptResult(outcome)
    return await _confirm(ctx, Win(claim, info, ctx.settings.flash_hold_seconds, idempotency_key, room_id))


async def _replayed(ctx: AppContext, user_id: int, sale_id: int, key: str) -> AttemptResult:
    """A retry of an attempt that already won (after a lost answer or a restart) gets its order back."""
    async with ctx.db.session() as session:
        order = await orders.by_idempotency_key(session, user_id, key)
    if order is not None and order.flash_sale_id == sale_id:
        return AttemptResult(Outcome.WON, order, summary(order, await sale_info(ctx, sale_id)))
    return AttemptResult(Outcome.LIMIT_REACHED)


async def _confirm(ctx: AppContext, win: Win) -> AttemptResult:
    rt = ctx.runtime(CommerceRuntime)
    try:
        written = await rt.writer.submit(win)
    except LookupError:
        await rt.gate.undo(win.claim, stock=True, count=False)
        raise Conflict("this idempotency key belongs to another order", code=CommerceCode.ORDER_KEY_REUSED) from None
    except Exception:
        # the order is not written; the claim stays in the gate and the reconciler gives it back if needed
        log.exception("flash order write failed", extra={"sale_id": win.sale.sale_id})
        raise
    if written.outcome is Outcome.WON and not written.duplicate:
        await rt.gate.settle(win.claim)
        rt.note_sold(win.sale.sale_id)
        assert written.order is not None
        line = order_events.line(win.sale.product_id, win.claim.quantity, win.sale.price)
        await ctx.bus.publish(order_events.order_event("order.created", written.order, [line]))
    elif written.outcome is Outcome.WON:
        await rt.gate.undo(win.claim, stock=True, count=False)
    elif written.outcome is Outcome.SOLD_OUT:
        await rt.gate.undo(win.claim, stock=False, count=True)
    else:
        await rt.gate.undo(win.claim, stock=True, count=False)
    if written.order is None:
        return AttemptResult(written.outcome)
    return AttemptResult(written.outcome, written.order, summary(written.order, win.sale, win.claim.quantity))


async def publish_stock(ctx: AppContext, sale_id: int) -> None:
    """One stock event per sale per sweep-ish tick (not per win): the viewers' "N left" and sold-out."""
    info = await sale_info(ctx, sale_id)
    left = await ctx.runtime(CommerceRuntime).gate.stock_left(sale_key(info))
    if left is None:
        return
    data = {"room_id": info.room_id, "sale_id": sale_id, "stock_left": max(0, left)}
    await ctx.bus.publish(Event("flash.stock", data, to_room=True))
    if left <= 0:
        line = announce.system(ctx, "sold_out", title=info.title)
        await ctx.bus.publish(Event("flash.sold_out", {**data, **line}, to_room=True, system=True))


# ---- upkeep (the sweeper) ----------------------------------------------------------------------------------


async def release_to_gate(
    session: AsyncSession, ctx: AppContext, sale_id: int, user_id: int, quantity: int, token: str
) -> None:
    sale = await session.get(FlashSale, sale_id)
    if sale is not None:
        await ctx.runtime(CommerceRuntime).gate.release(sale_key(sale), user_id, quantity, token)
        ctx.runtime(CommerceRuntime).note_sold(sale_id)


async def reconcile(session: AsyncSession, ctx: AppContext) -> int:
    """Claims left in the gate by a process that died before writing their order: if the order exists the
    claim is settled, else its units go back to the sale. Returns how many were given back."""
    rt = ctx.runtime(CommerceRuntime)
    recent = utcnow() - timedelta(hours=1)
    sales = list(await session.scalars(select(FlashSale).where(FlashSale.ends_at > recent)))
    given_back = 0
    for sale in sales:
        for claim in await rt.gate.stale_claims(sale_key(sale), ctx.settings.flash_claim_stale_seconds):
            found = await session.scalar(select(Order.id).where(Order.claim_id == claim.claim_id))
            if found is not None:
                await rt.gate.settle(claim)
            else:
                await rt.gate.undo(claim, stock=True, count=True)
                given_back += 1
                rt.note_sold(sale.id)
    return given_back
