"""JSON API for the catalog: /api/v1/products. Hosts manage their products; anyone may read an active one."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile

from knowcast.catalog import service
from knowcast.catalog.schemas import (
    FilePublic,
    LessonCreate,
    LessonPublic,
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
        raise NotFound("no such product", code="product.not_found")
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
async def add_lesson(product_id: Id, data: LessonCreate, db: Db, host: Host) -> LessonPublic:
    product = await service.get_managed_product(db, host, product_id)
    return lesson_public(await service.add_lesson(db, product, data), completed=False)


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
