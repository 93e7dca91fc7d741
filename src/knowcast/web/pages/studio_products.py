"""The studio's product library, outside any room: every kind of product, created and edited with its cover,
and what each kind carries (a course's lessons, a file product's downloads, a consultation's slots)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from knowcast.catalog import courses
from knowcast.catalog import service as catalog
from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.kinds import ROOM_KINDS, LessonKind, ProductKind
from knowcast.catalog.models import Product
from knowcast.catalog.schemas import LessonCreate, LessonUpdate, ProductCreate, ProductUpdate, SlotCreate
from knowcast.catalog.views import product_public
from knowcast.commerce import summary
from knowcast.deps import Ctx, Db, Host, Id
from knowcast.errors import KnowcastError, ValidationFailed
from knowcast.money import decimal, money
from knowcast.rooms import service as rooms
from knowcast.web.pages.forms import form_file, form_values, parse
from knowcast.web.pages.studio import local_to_utc
from knowcast.web.templating import pages_of as pages

router = APIRouter(prefix="/studio/products")
KINDS = tuple(kind.value for kind in ProductKind)
MONEY = re.compile(r"^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$")
MONEY_FIELDS = ("price", "list_price")
NUMBER_FIELDS = ("stock", "per_user_limit", "membership_days", "room_id")


def to_minor(value: str) -> int | str:
    """'199' or '19.9' yuan → 19900 / 1990 fen; anything else is left for the schema to refuse by field."""
    found = MONEY.match(value)
    if found is None:
        return value
    return int(found[1]) * 100 + int((found[2] or "0").ljust(2, "0"))


def product_values(values: dict[str, str]) -> dict[str, object]:
    """A product form → the schema's fields: money in fen, empty optional numbers as None."""
    data: dict[str, object] = {k: v for k, v in values.items() if k in ("kind", "title", "description")}
    for name in MONEY_FIELDS + NUMBER_FIELDS:
        raw = values.get(name, "").strip()
        if raw:
            data[name] = to_minor(raw) if name in MONEY_FIELDS else raw
        elif name != "price":
            data[name] = None
    if "is_active" in values or "title" in values:
        data["is_active"] = values.get("is_active") == "on"
    return data


async def _upload(request: Request, ctx: Ctx, name: str) -> tuple[str, bytes, str] | None:
    found: UploadFile | None = await form_file(request, name)
    if found is None:
        return None
    data = await found.read(ctx.settings.max_upload_bytes + 1)
    return found.filename or "upload", data, found.content_type or "application/octet-stream"


@router.get("")
async def library(request: Request, db: Db, host: Host, kind: str = "") -> Response:
    products = await catalog.products_of_host(db, host)
    counts = {k: sum(1 for p in products if p.kind.value == k) for k in KINDS}
    shown = [p for p in products if not kind or p.kind.value == kind]
    lessons = await courses.lesson_counts(db, [p.id for p in shown if p.kind is ProductKind.COURSE])
    return pages(request).render(
        request,
        "studio_products.html",
        products=[product_public(p) for p in shown],
        counts=counts,
        total=len(products),
        kind=kind if kind in KINDS else "",
        kinds=KINDS,
        sales=await summary.by_product(db, host.id),
        lessons=lessons,
        money=money,
    )


@router.get("/new")
async def new_product(request: Request, db: Db, host: Host, kind: str = "course") -> Response:
    kind = kind if kind in KINDS else ProductKind.COURSE.value
    return await _editor(request, db, host, None, {"kind": kind, "is_active": "on"}, None)


@router.post("")
async def create_product(request: Request, ctx: Ctx, db: Db, host: Host) -> Response:
    values = await form_values(request)
    try:
        data = parse(ProductCreate, {k: v for k, v in product_values(values).items() if k != "is_active"})
        cover = await _upload(request, ctx, "cover")
        product = await catalog.create_product(db, ctx, host, data)
        if cover is not None:
            await catalog.set_cover(db, ctx, product, cover[1])
    except KnowcastError as error:
        return await _editor(request, db, host, None, values, error)
    return RedirectResponse(f"/studio/products/{product.id}?created=1", status_code=303)


@router.get("/{product_id}")
async def edit_page(request: Request, product_id: Id, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    return await _editor(request, db, host, product, _values_of(product), None)


@router.post("/{product_id}")
async def save_product(request: Request, product_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    values = await form_values(request)
    try:
        fields = {k: v for k, v in product_values(values).items() if k != "kind"}
        data = parse(ProductUpdate, fields)
        _check_prices(product, data)
        if data.room_id is not None:
            await rooms.get_managed_room(db, host, data.room_id)
        cover = await _upload(request, ctx, "cover")
        await catalog.update_product(db, ctx, product, data)
        if cover is not None:
            await catalog.set_cover(db, ctx, product, cover[1])
    except KnowcastError as error:
        return await _editor(request, db, host, product, values, error)
    return RedirectResponse(f"/studio/products/{product.id}?saved=1", status_code=303)


def _check_prices(product: Product, data: ProductUpdate) -> None:
    """Refused before anything changes, so the page can show the product as it still is."""
    price = product.price if data.price is None else data.price
    list_price = data.list_price if "list_price" in data.model_fields_set else product.list_price
    if list_price is not None and list_price < price:
        raise ValidationFailed(
            "list price cannot be below price",
            code=CatalogCode.PRODUCT_LIST_PRICE_BELOW_PRICE,
            fields={"list_price": "<"},
        )


# ---- course lessons ---------------------------------------------------------------------------------------


def lesson_values(values: dict[str, str]) -> dict[str, object]:
    data: dict[str, object] = {k: values[k] for k in ("title", "kind", "body") if k in values}
    data["media_url"] = values.get("media_url", "").strip() or None
    data["release_after_days"] = values.get("release_after_days", "").strip() or None
    return data


@router.post("/{product_id}/lessons")
async def add_lesson(request: Request, product_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    values = await form_values(request)
    try:
        data = parse(LessonCreate, lesson_values(values))
        await courses.create_lesson(db, ctx, product, data, await _upload(request, ctx, "file"))
    except KnowcastError as error:
        return await _editor(request, db, host, product, _values_of(product), error, lesson_values=values)
    return RedirectResponse(f"/studio/products/{product.id}?lesson=added#lessons", status_code=303)


@router.post("/{product_id}/lessons/{lesson_id}")
async def edit_lesson(request: Request, product_id: Id, lesson_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    lesson = await courses.get_lesson(db, product, lesson_id)
    values = await form_values(request)
    try:
        data = parse(LessonUpdate, {k: v for k, v in lesson_values(values).items() if k != "kind"})
        await courses.update_lesson(db, ctx, product, lesson, data, await _upload(request, ctx, "file"))
    except KnowcastError as error:
        return await _editor(request, db, host, product, _values_of(product), error)
    return RedirectResponse(f"/studio/products/{product.id}?lesson=saved#lesson-{lesson.id}", status_code=303)


@router.post("/{product_id}/lessons/{lesson_id}/move")
async def move_lesson(request: Request, product_id: Id, lesson_id: Id, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    lesson = await courses.get_lesson(db, product, lesson_id)
    step = -1 if (await form_values(request)).get("step") == "up" else 1
    await courses.move(db, product, lesson, step)
    return RedirectResponse(f"/studio/products/{product.id}#lesson-{lesson.id}", status_code=303)


@router.post("/{product_id}/lessons/{lesson_id}/delete")
async def delete_lesson(product_id: Id, lesson_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    await courses.delete_lesson(db, ctx, await courses.get_lesson(db, product, lesson_id))
    return RedirectResponse(f"/studio/products/{product.id}?lesson=deleted#lessons", status_code=303)


# ---- a file product's downloads and a consultation's slots ------------------------------------------------


@router.post("/{product_id}/files")
async def add_file(request: Request, product_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    try:
        upload = await _upload(request, ctx, "file")
        if upload is None:
            raise ValidationFailed("choose a file", code=CatalogCode.PRODUCT_FILE_MISSING, fields={"file": "required"})
        await catalog.add_file(db, ctx, product, upload[0], upload[1], upload[2])
    except KnowcastError as error:
        return await _editor(request, db, host, product, _values_of(product), error)
    return RedirectResponse(f"/studio/products/{product.id}?file=added#files", status_code=303)


@router.post("/{product_id}/files/{file_id}/delete")
async def delete_file(product_id: Id, file_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    await catalog.delete_file(db, ctx, product, file_id)
    return RedirectResponse(f"/studio/products/{product.id}#files", status_code=303)


@router.post("/{product_id}/slots")
async def add_slot(request: Request, product_id: Id, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    values = await form_values(request)
    try:
        starts = local_to_utc(pages(request), values.get("starts_at"))
        data = parse(SlotCreate, {"starts_at": starts, "minutes": values.get("minutes") or 30})
        await catalog.add_slot(db, product, data)
    except KnowcastError as error:
        return await _editor(request, db, host, product, _values_of(product), error)
    return RedirectResponse(f"/studio/products/{product.id}?slot=added#slots", status_code=303)


@router.post("/{product_id}/slots/{slot_id}/delete")
async def delete_slot(request: Request, product_id: Id, slot_id: Id, db: Db, host: Host) -> Response:
    product = await catalog.get_managed_product(db, host, product_id)
    try:
        await catalog.delete_slot(db, product, slot_id)
    except KnowcastError as error:
        return await _editor(request, db, host, product, _values_of(product), error)
    return RedirectResponse(f"/studio/products/{product.id}#slots", status_code=303)


# ---- the editor page --------------------------------------------------------------------------------------


def _yuan(amount: int | None) -> str:
    if amount is None:
        return ""
    return f"{amount // 100}" if amount % 100 == 0 else decimal(amount)


def _values_of(product: Product) -> dict[str, str]:
    optional = {
        "list_price": _yuan(product.list_price),
        "stock": "" if product.stock is None else str(product.stock),
        "per_user_limit": "" if product.per_user_limit is None else str(product.per_user_limit),
        "membership_days": "" if product.membership_days is None else str(product.membership_days),
        "room_id": "" if product.room_id is None else str(product.room_id),
    }
    return {
        "kind": product.kind.value,
        "title": product.title,
        "description": product.description,
        "price": _yuan(product.price),
        "is_active": "on" if product.is_active else "",
        **optional,
    }


async def _editor(
    request: Request,
    db: Db,
    host: Host,
    product: Product | None,
    values: dict[str, str],
    error: KnowcastError | None,
    lesson_values: dict[str, str] | None = None,
) -> Response:
    kind = ProductKind(values.get("kind") or (product.kind.value if product else "course"))
    content: dict[str, Any] = {}
    if product is not None and product.kind is ProductKind.COURSE:
        files = await courses.lesson_files(db, product.id)
        content["lessons"] = [(lesson, files.get(lesson.id)) for lesson in await catalog.lessons_of(db, product.id)]
    elif product is not None and product.kind is ProductKind.FILE:
        content["files"] = await catalog.files_of(db, product.id)
    elif product is not None and product.kind is ProductKind.CONSULTATION:
        content["slots"] = await catalog.slots_of(db, product.id)
    host_rooms = await rooms.rooms_of_host(db, host) if kind in ROOM_KINDS else []
    return pages(request).render(
        request,
        "studio_product.html",
        error.status_code if error else 200,
        product=product_public(product) if product else None,
        kind=kind.value,
        values=values,
        lesson_values=lesson_values or {"kind": "text"},
        lesson_kinds=[k.value for k in LessonKind],
        rooms=host_rooms,
        error=error,
        flags=request.query_params,
        money=money,
        yuan=_yuan,
        **content,
    )
