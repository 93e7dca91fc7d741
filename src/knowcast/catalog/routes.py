"""JSON API for the catalog: /api/v1/products. Hosts manage their products; anyone may read an active one."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from starlette.responses import Response

from knowcast.catalog import courses, service
from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.schemas import (
    FilePublic,
    LessonCreate,
    LessonOrder,
    LessonPublic,
    LessonUpdate,
    ProductCreate,
    ProductPublic,
    ProductUpdate,
    SlotCreate,
    SlotPublic,
)
from knowcast.catalog.views import file_public, lesson_public, product_public, slot_public
from knowcast.deps import Ctx, Db, Host, Id, MaybeUser, Public
from knowcast.errors import NotFound

router = APIRouter(prefix="/api/v1/products", tags=["catalog"])


@router.get("")
async def my_products(db: Db, host: Host) -> list[ProductPublic]:
    return [product_public(p) for p in await service.products_of_host(db, host)]


@router.post("", status_code=201)
async def create_product(data: ProductCreate, ctx: Ctx, db: Db, host: Host) -> ProductPublic:
    return product_public(await service.create_product(db, ctx, host, data))


@router.get("/{product_id}", dependencies=[Public])
async def get_product(product_id: Id, db: Db, user: MaybeUser) -> ProductPublic:
    product = await service.get_product(db, product_id)
    if not product.is_active and (user is None or user.id != product.host_id):
        raise NotFound("no such product", code=CatalogCode.PRODUCT_NOT_FOUND)
    return product_public(product)


@router.patch("/{product_id}")
async def update_product(product_id: Id, data: ProductUpdate, ctx: Ctx, db: Db, host: Host) -> ProductPublic:
    product = await service.get_managed_product(db, host, product_id)
    return product_public(await service.update_product(db, ctx, product, data))


@router.post("/{product_id}/cover")
async def upload_cover(product_id: Id, cover: UploadFile, ctx: Ctx, db: Db, host: Host) -> ProductPublic:
    product = await service.get_managed_product(db, host, product_id)
    data = await cover.read(ctx.settings.max_upload_bytes + 1)
    return product_public(await service.set_cover(db, ctx, product, data))


@router.post("/{product_id}/lessons", status_code=201)
async def add_lesson(product_id: Id, data: LessonCreate, ctx: Ctx, db: Db, host: Host) -> LessonPublic:
    """A text or link lesson, or a video/file lesson by address (uploads go through the studio's form)."""
    product = await service.get_managed_product(db, host, product_id)
    return lesson_public(await courses.create_lesson(db, ctx, product, data, None), completed=False)


@router.get("/{product_id}/lessons")
async def list_lessons(product_id: Id, db: Db, host: Host) -> list[LessonPublic]:
    product = await service.get_managed_product(db, host, product_id)
    return [lesson_public(lesson, completed=False) for lesson in await service.lessons_of(db, product.id)]


@router.patch("/{product_id}/lessons/{lesson_id}")
async def update_lesson(
    product_id: Id, lesson_id: Id, data: LessonUpdate, ctx: Ctx, db: Db, host: Host
) -> LessonPublic:
    product = await service.get_managed_product(db, host, product_id)
    lesson = await courses.get_lesson(db, product, lesson_id)
    return lesson_public(await courses.update_lesson(db, ctx, product, lesson, data), completed=False)


@router.delete("/{product_id}/lessons/{lesson_id}", status_code=204)
async def delete_lesson(product_id: Id, lesson_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    product = await service.get_managed_product(db, host, product_id)
    await courses.delete_lesson(db, ctx, await courses.get_lesson(db, product, lesson_id))
    return Response(status_code=204)


@router.put("/{product_id}/lessons/order")
async def order_lessons(product_id: Id, data: LessonOrder, db: Db, host: Host) -> list[LessonPublic]:
    product = await service.get_managed_product(db, host, product_id)
    return [lesson_public(lesson, completed=False) for lesson in await courses.reorder(db, product, data.lesson_ids)]


@router.post("/{product_id}/files", status_code=201)
async def add_file(product_id: Id, file: UploadFile, ctx: Ctx, db: Db, host: Host) -> FilePublic:
    product = await service.get_managed_product(db, host, product_id)
    data = await file.read(ctx.settings.max_upload_bytes + 1)
    row = await service.add_file(db, ctx, product, file.filename or "download", data, file.content_type)
    return file_public(row)


@router.post("/{product_id}/slots", status_code=201)
async def add_slot(product_id: Id, data: SlotCreate, db: Db, host: Host) -> SlotPublic:
    product = await service.get_managed_product(db, host, product_id)
    return slot_public(await service.add_slot(db, product, data))


@router.get("/{product_id}/slots", dependencies=[Public])
async def list_slots(product_id: Id, db: Db) -> list[SlotPublic]:
    await service.get_product(db, product_id)
    return [slot_public(s) for s in await service.slots_of(db, product_id)]
