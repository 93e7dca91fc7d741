"""The only code that changes the catalog. Stock moves through take_stock / put_back_stock, always as one
conditional UPDATE, so two buyers can never both take the last unit (no read-then-write)."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import Role, User
from knowcast.bus import Event
from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.models import ConsultationSlot, Lesson, LessonProgress, Product, ProductFile
from knowcast.catalog.schemas import LessonCreate, ProductCreate, ProductUpdate, SlotCreate
from knowcast.context import AppContext
from knowcast.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from knowcast.rooms import covers
from knowcast.rooms import service as rooms

MAX_FILENAME = 200


def ensure_can_manage(user: User, product: Product) -> None:
    if user.role is Role.OWNER or (user.role is Role.HOST and product.host_id == user.id):
        return
    raise PermissionDenied("only this product's host can do that", code=CatalogCode.PRODUCT_NOT_HOST)


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound("no such product", code=CatalogCode.PRODUCT_NOT_FOUND)
    return product


async def get_managed_product(session: AsyncSession, user: User, product_id: int) -> Product:
    product = await get_product(session, product_id)
    ensure_can_manage(user, product)
    return product


async def products_of_host(session: AsyncSession, host: User) -> list[Product]:
    query = select(Product).order_by(Product.id.desc())
    if host.role is not Role.OWNER:
        query = query.where(Product.host_id == host.id)
    return list(await session.scalars(query))


async def create_product(session: AsyncSession, ctx: AppContext, host: User, data: ProductCreate) -> Product:
    if data.room_id is not None:
        await rooms.get_managed_room(session, host, data.room_id)
    product = Product(host_id=host.id, **data.model_dump())
    session.add(product)
    await session.commit()
    await ctx.bus.publish(Event("product.created", {"product_id": product.id, "host_id": host.id}))
    return product


async def update_product(session: AsyncSession, ctx: AppContext, product: Product, data: ProductUpdate) -> Product:
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None or name in ("list_price", "stock", "per_user_limit"):
            setattr(product, name, value)
    if product.list_price is not None and product.list_price < product.price:
        raise ValidationFailed("list price cannot be below price", code=CatalogCode.PRODUCT_LIST_PRICE_BELOW_PRICE)
    await session.commit()
    await ctx.bus.publish(Event("product.updated", {"product_id": product.id}))
    return product


async def set_cover(session: AsyncSession, ctx: AppContext, product: Product, data: bytes) -> Product:
    upload_dir = ctx.settings.data_dir / "uploads" / "covers"
    old = product.cover_path
    product.cover_path = covers.save_cover(upload_dir, data, ctx.settings.max_upload_bytes)
    await session.commit()
    if old:
        (upload_dir / old).unlink(missing_ok=True)
    return product


# ---- stock: always one conditional statement, inside the caller's transaction ------------------------------


async def take_stock(session: AsyncSession, product_id: int, quantity: int) -> bool:
    """Take ``quantity`` units if that many are left (unlimited stock always succeeds). Does not commit."""
    result = await session.execute(
        update(Product)
        .where(Product.id == product_id, (Product.stock.is_(None)) | (Product.stock >= quantity))
        .values(stock=Product.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def put_back_stock(session: AsyncSession, product_id: int, quantity: int) -> None:
    await session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock.is_not(None))
        .values(stock=Product.stock + quantity)
        .execution_options(synchronize_session=False)
    )


# ---- courses ----------------------------------------------------------------------------------------------


async def lessons_of(session: AsyncSession, product_id: int) -> list[Lesson]:
    query = select(Lesson).where(Lesson.product_id == product_id).order_by(Lesson.position, Lesson.id)
    return list(await session.scalars(query))


async def add_lesson(session: AsyncSession, product: Product, data: LessonCreate) -> Lesson:
    if product.kind is not ProductKind.COURSE:
        raise Conflict("only a course has lessons", code=CatalogCode.PRODUCT_NOT_A_COURSE)
    position = data.position
    if position is None:
        last = await session.scalar(select(func.max(Lesson.position)).where(Lesson.product_id == product.id))
        position = (last or 0) + 1
    lesson = Lesson(product_id=product.id, position=position, **data.model_dump(exclude={"position"}))
    session.add(lesson)
    await session.commit()
    return lesson


async def completed_lessons(session: AsyncSession, user_id: int, product_id: int) -> set[int]:
    query = (
        select(LessonProgress.lesson_id)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id == user_id, Lesson.product_id == product_id)
    )
    return set(await session.scalars(query))


async def complete_lesson(session: AsyncSession, user_id: int, lesson_id: int) -> Lesson:
    """Mark a lesson done (repeating it changes nothing). The caller checks course access first."""
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound("no such lesson", code=CatalogCode.LESSON_NOT_FOUND)
    session.add(LessonProgress(user_id=user_id, lesson_id=lesson_id))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
    return lesson


# ---- files ------------------------------------------------------------------------------------------------


def files_dir(ctx: AppContext) -> Path:
    return ctx.settings.data_dir / "uploads" / "files"


async def add_file(
    session: AsyncSession, ctx: AppContext, product: Product, filename: str, data: bytes, content_type: str | None
) -> ProductFile:
    if product.kind is not ProductKind.FILE:
        raise Conflict("only a file product has downloads", code=CatalogCode.PRODUCT_NOT_A_FILE)
    if len(data) > ctx.settings.max_upload_bytes:
        raise ValidationFailed("the file is too large", code=CatalogCode.PRODUCT_FILE_TOO_LARGE)
    name = Path(filename or "download").name[:MAX_FILENAME] or "download"
    stored = secrets.token_hex(16)
    folder = files_dir(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored).write_bytes(data)
    row = ProductFile(
        product_id=product.id,
        filename=name,
        stored_name=stored,
        size=len(data),
        content_type=(content_type or "application/octet-stream")[:100],
    )
    session.add(row)
    await session.commit()
    return row


async def files_of(session: AsyncSession, product_id: int) -> list[ProductFile]:
    """A file product's downloads (a course's lesson uploads are served with their lessons, not here)."""
    query = select(ProductFile).where(ProductFile.product_id == product_id, ProductFile.lesson_id.is_(None))
    return list(await session.scalars(query.order_by(ProductFile.id)))


async def delete_file(session: AsyncSession, ctx: AppContext, product: Product, file_id: int) -> None:
    row = await session.get(ProductFile, file_id)
    if row is None or row.product_id != product.id or row.lesson_id is not None:
        raise NotFound("no such file", code=CatalogCode.FILE_NOT_FOUND)
    await session.delete(row)
    await session.commit()
    (files_dir(ctx) / row.stored_name).unlink(missing_ok=True)


async def get_file(session: AsyncSession, file_id: int) -> ProductFile:
    row = await session.get(ProductFile, file_id)
    if row is None:
        raise NotFound("no such file", code=CatalogCode.FILE_NOT_FOUND)
    return row


# ---- consultation slots -----------------------------------------------------------------------------------


async def add_slot(session: AsyncSession, product: Product, data: SlotCreate) -> ConsultationSlot:
    if product.kind is not ProductKind.CONSULTATION:
        raise Conflict("only a consultation has slots", code=CatalogCode.PRODUCT_NOT_A_CONSULTATION)
    slot = ConsultationSlot(product_id=product.id, starts_at=data.starts_at, minutes=data.minutes)
    session.add(slot)
    await session.commit()
    return slot


async def delete_slot(session: AsyncSession, product: Product, slot_id: int) -> None:
    """Take a free slot off the calendar; a held or booked one stays (its buyer is counting on it)."""
    slot = await session.get(ConsultationSlot, slot_id)
    if slot is None or slot.product_id != product.id:
        raise NotFound("no such slot", code=CatalogCode.SLOT_NOT_FOUND)
    if slot.held_by_order is not None or slot.booked_by is not None:
        raise Conflict("this slot is booked", code=CatalogCode.SLOT_BOOKED)
    await session.delete(slot)
    await session.commit()


async def slots_of(session: AsyncSession, product_id: int) -> list[ConsultationSlot]:
    query = select(ConsultationSlot).where(ConsultationSlot.product_id == product_id)
    return list(await session.scalars(query.order_by(ConsultationSlot.starts_at)))


async def hold_slot(session: AsyncSession, product_id: int, slot_id: int, order_id: int) -> bool:
    """Hold a free slot for an unpaid order (one conditional UPDATE). Does not commit."""
    result = await session.execute(
        update(ConsultationSlot)
        .where(
            ConsultationSlot.id == slot_id,
            ConsultationSlot.product_id == product_id,
            ConsultationSlot.held_by_order.is_(None),
        )
        .values(held_by_order=order_id)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def book_slot(session: AsyncSession, order_id: int, user_id: int) -> list[int]:
    """The order was paid: its held slots become booked by the buyer. Does not commit."""
    query = select(ConsultationSlot).where(ConsultationSlot.held_by_order == order_id)
    slots = list(await session.scalars(query))
    for slot in slots:
        slot.booked_by = user_id
    return [slot.id for slot in slots]


async def release_slots(session: AsyncSession, order_id: int) -> None:
    """The order expired, was cancelled or refunded: its slots are free again. Does not commit."""
    await session.execute(
        update(ConsultationSlot)
        .where(ConsultationSlot.held_by_order == order_id)
        .values(held_by_order=None, booked_by=None)
        .execution_options(synchronize_session=False)
    )
