"""A room's shelf and its pinned product ("now explaining"). A pin carries the stream's program date-time,
so each viewer's page shows it when their own video reaches that moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.bus import Event
from knowcast.catalog import service as catalog
from knowcast.catalog.models import Product
from knowcast.catalog.views import product_public
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.models import ShelfItem
from knowcast.commerce.schemas import ShelfEntry
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound, PermissionDenied
from knowcast.rooms.models import Room


async def shelf_of(session: AsyncSession, room_id: int, active_only: bool = True) -> list[ShelfEntry]:
    query = (
        select(ShelfItem, Product)
        .join(Product, Product.id == ShelfItem.product_id)
        .where(ShelfItem.room_id == room_id)
        .order_by(ShelfItem.position, ShelfItem.id)
    )
    if active_only:
        query = query.where(Product.is_active.is_(True))
    return [
        ShelfEntry(
            product=product_public(product),
            pinned=item.pinned_at is not None,
            pin_program_time=item.pin_program_time,
            position=item.position,
        )
        for item, product in (await session.execute(query)).all()
    ]


async def add(session: AsyncSession, ctx: AppContext, room: Room, product_id: int) -> list[ShelfEntry]:
    product = await catalog.get_product(session, product_id)
    if product.host_id != room.host_id:
        raise PermissionDenied(
            "only the room host's own products go on its shelf", code=CommerceCode.SHELF_NOT_HOST_PRODUCT
        )
    last = await session.scalar(select(func.max(ShelfItem.position)).where(ShelfItem.room_id == room.id))
    session.add(ShelfItem(room_id=room.id, product_id=product.id, position=(last or 0) + 1))
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("the product is already on the shelf", code=CommerceCode.SHELF_ALREADY_THERE) from exc
    return await _changed(session, ctx, room.id)


async def remove(session: AsyncSession, ctx: AppContext, room: Room, product_id: int) -> list[ShelfEntry]:
    item = await _item(session, room.id, product_id)
    await session.delete(item)
    await session.commit()
    return await _changed(session, ctx, room.id)


async def _item(session: AsyncSession, room_id: int, product_id: int) -> ShelfItem:
    item = await session.scalar(
        select(ShelfItem).where(ShelfItem.room_id == room_id, ShelfItem.product_id == product_id)
    )
    if item is None:
        raise NotFound("the product is not on this shelf", code=CommerceCode.SHELF_NOT_ON_SHELF)
    return item


async def _changed(session: AsyncSession, ctx: AppContext, room_id: int) -> list[ShelfEntry]:
    entries = await shelf_of(session, room_id)
    data = {"room_id": room_id, "items": [e.model_dump(mode="json") for e in entries]}
    await ctx.bus.publish(Event("shelf.updated", data, to_room=True))
    return entries


async def pin(
    session: AsyncSession, ctx: AppContext, room: Room, product_id: int | None, program_time: datetime | None
) -> ShelfEntry | None:
    """Pin one shelf product (unpinning the last), or unpin with ``product_id=None``."""
    item = await _item(session, room.id, product_id) if product_id is not None else None
    await session.execute(
        update(ShelfItem)
        .where(ShelfItem.room_id == room.id)
        .values(pinned_at=None, pin_program_time=None)
        .execution_options(synchronize_session=False)
    )
    if item is not None:
        item.pinned_at = utcnow()
        item.pin_program_time = program_time or item.pinned_at
    await session.commit()
    if item is None:
        await ctx.bus.publish(Event("shelf.unpinned", {"room_id": room.id}, to_room=True))
        return None
    await session.refresh(item)
    entry = next(e for e in await shelf_of(session, room.id, active_only=False) if e.product.id == item.product_id)
    await ctx.bus.publish(
        Event(
            "shelf.pinned",
            {
                "room_id": room.id,
                "product": entry.product.model_dump(mode="json"),
                "program_time": entry.pin_program_time.isoformat() if entry.pin_program_time else None,
            },
            to_room=True,
        )
    )
    return entry


async def pinned(session: AsyncSession, room_id: int) -> ShelfEntry | None:
    return next((e for e in await shelf_of(session, room_id) if e.pinned), None)
