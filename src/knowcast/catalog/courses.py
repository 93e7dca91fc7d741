"""A course's content, managed from the studio: lessons (uploaded video, link, text or file), their order, drip
release, and when each one opens for a buyer.

Uploaded lesson files are product content: they live beside the file products' downloads (never under a public
static folder) and reach buyers only through signed, expiring links checked against the entitlement.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.kinds import UPLOAD_LESSONS, LessonKind, ProductKind
from knowcast.catalog.models import Lesson, Product, ProductFile
from knowcast.catalog.schemas import LessonCreate, LessonUpdate
from knowcast.catalog.service import MAX_FILENAME, files_dir, lessons_of
from knowcast.context import AppContext
from knowcast.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed

NULLABLE = ("release_after_days", "media_url")  # fields an edit may clear
Upload = tuple[str, bytes, str]  # (filename, bytes, content type) of a file sent with a lesson


def video_type(data: bytes) -> str | None:
    """MP4/MOV (an ``ftyp`` box first) or WebM (an EBML header), told by the bytes, not the name."""
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def _ensure_course(product: Product) -> None:
    if product.kind is not ProductKind.COURSE:
        raise Conflict("only a course has lessons", code=CatalogCode.PRODUCT_NOT_A_COURSE)


async def get_lesson(session: AsyncSession, product: Product, lesson_id: int) -> Lesson:
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None or lesson.product_id != product.id:
        raise NotFound("no such lesson in this course", code=CatalogCode.LESSON_NOT_FOUND)
    return lesson


async def create_lesson(
    session: AsyncSession, ctx: AppContext, product: Product, data: LessonCreate, upload: Upload | None
) -> Lesson:
    """A new lesson at the end of the course (or at ``data.position``), with its uploaded video or file if any."""
    _ensure_course(product)
    if upload is not None and data.kind not in UPLOAD_LESSONS:
        raise ValidationFailed(
            "only a video or file lesson takes an upload", code=CatalogCode.LESSON_UPLOAD_NOT_ALLOWED
        )
    if upload is None and data.kind in UPLOAD_LESSONS and not data.media_url:
        raise ValidationFailed(
            "a video or file lesson needs an upload or an address",
            code=CatalogCode.LESSON_CONTENT_MISSING,
            fields={"file": "required"},
        )
    if upload is not None:
        upload = checked(ctx, data.kind, upload)
    position = data.position
    if position is None:
        last = await session.scalar(select(func.max(Lesson.position)).where(Lesson.product_id == product.id))
        position = (last or 0) + 1
    lesson = Lesson(product_id=product.id, position=position, **data.model_dump(exclude={"position"}))
    session.add(lesson)
    await session.flush()
    if upload is not None:
        _store(ctx, session, product, lesson, upload)
    await session.commit()
    return lesson


async def update_lesson(
    session: AsyncSession,
    ctx: AppContext,
    product: Product,
    lesson: Lesson,
    data: LessonUpdate,
    upload: Upload | None = None,
) -> Lesson:
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None or k in NULLABLE}
    url = changes.get("media_url", lesson.media_url)
    if lesson.kind is LessonKind.LINK and not (url or "").startswith(("http://", "https://")):
        raise ValidationFailed("a link lesson needs an http(s) address", code=CatalogCode.LESSON_LINK_MISSING)
    if upload is not None:
        if lesson.kind not in UPLOAD_LESSONS:
            raise ValidationFailed(
                "only a video or file lesson takes an upload", code=CatalogCode.LESSON_UPLOAD_NOT_ALLOWED
            )
        upload = checked(ctx, lesson.kind, upload)
    for name, value in changes.items():
        setattr(lesson, name, value)
    if upload is not None:
        old = await lesson_file(session, lesson.id)
        _store(ctx, session, product, lesson, upload)
        if old is not None:
            await session.delete(old)
            (files_dir(ctx) / old.stored_name).unlink(missing_ok=True)
    await session.commit()
    return lesson


async def delete_lesson(session: AsyncSession, ctx: AppContext, lesson: Lesson) -> None:
    stored = await lesson_file(session, lesson.id)
    await session.execute(delete(ProductFile).where(ProductFile.lesson_id == lesson.id))
    await session.delete(lesson)
    await session.commit()
    if stored is not None:
        (files_dir(ctx) / stored.stored_name).unlink(missing_ok=True)


async def reorder(session: AsyncSession, product: Product, lesson_ids: list[int]) -> list[Lesson]:
    """Put the lessons in the given order; the list must name every lesson of the course exactly once."""
    lessons = await lessons_of(session, product.id)
    if sorted(lesson_ids) != sorted(lesson.id for lesson in lessons):
        raise ValidationFailed("name every lesson of this course exactly once", code=CatalogCode.LESSON_ORDER_MISMATCH)
    by_id = {lesson.id: lesson for lesson in lessons}
    for position, lesson_id in enumerate(lesson_ids, start=1):
        by_id[lesson_id].position = position
    await session.commit()
    return [by_id[i] for i in lesson_ids]


async def move(session: AsyncSession, product: Product, lesson: Lesson, step: int) -> list[Lesson]:
    """Move one lesson up (step -1) or down (+1); at either end it stays where it is."""
    order = [item.id for item in await lessons_of(session, product.id)]
    index = order.index(lesson.id)
    target = min(max(index + step, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    return await reorder(session, product, order)


def checked(ctx: AppContext, kind: LessonKind, upload: Upload) -> Upload:
    """The upload if it may be stored for this kind of lesson (a video's type told by its bytes), else raise."""
    filename, data, content_type = upload
    if len(data) > ctx.settings.max_upload_bytes:
        raise PayloadTooLarge("the file is too large", code=CatalogCode.LESSON_FILE_TOO_LARGE)
    if not data:
        raise ValidationFailed("the file is empty", code=CatalogCode.LESSON_FILE_EMPTY, fields={"file": "empty"})
    if kind is LessonKind.VIDEO:
        sniffed = video_type(data)
        if sniffed is None:
            raise ValidationFailed(
                "a video lesson takes an MP4 or WebM file", code=CatalogCode.LESSON_VIDEO_TYPE, fields={"file": "type"}
            )
        content_type = sniffed
    return filename, data, content_type


def _store(ctx: AppContext, session: AsyncSession, product: Product, lesson: Lesson, upload: Upload) -> ProductFile:
    filename, data, content_type = upload
    stored = secrets.token_hex(16)
    folder = files_dir(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored).write_bytes(data)
    row = ProductFile(
        product_id=product.id,
        lesson_id=lesson.id,
        filename=Path(filename or "lesson").name[:MAX_FILENAME] or "lesson",
        stored_name=stored,
        size=len(data),
        content_type=(content_type or "application/octet-stream")[:100],
    )
    session.add(row)
    return row


async def lesson_counts(session: AsyncSession, product_ids: list[int]) -> dict[int, int]:
    """How many lessons each course has (courses without any are absent)."""
    if not product_ids:
        return {}
    query = select(Lesson.product_id, func.count(Lesson.id)).where(Lesson.product_id.in_(product_ids))
    return {int(row[0]): int(row[1]) for row in await session.execute(query.group_by(Lesson.product_id))}


async def lesson_file(session: AsyncSession, lesson_id: int) -> ProductFile | None:
    row: ProductFile | None = await session.scalar(select(ProductFile).where(ProductFile.lesson_id == lesson_id))
    return row


async def lesson_files(session: AsyncSession, product_id: int) -> dict[int, ProductFile]:
    """Each lesson's uploaded file, by lesson id."""
    query = select(ProductFile).where(ProductFile.product_id == product_id, ProductFile.lesson_id.is_not(None))
    return {row.lesson_id: row for row in await session.scalars(query) if row.lesson_id is not None}


def opens_at(lesson: Lesson, owned_since: datetime | None) -> datetime | None:
    """When drip release opens the lesson for a buyer who owns the course since ``owned_since`` (None: now)."""
    if not lesson.release_after_days or owned_since is None:
        return None
    return owned_since + timedelta(days=lesson.release_after_days)


def is_open(lesson: Lesson, owned_since: datetime | None, now: datetime) -> bool:
    when = opens_at(lesson, owned_since)
    return when is None or when <= now
