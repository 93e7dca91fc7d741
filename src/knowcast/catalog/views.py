"""ORM rows → the schemas that cross the edge (shared by catalog and commerce routes and pages)."""

from __future__ import annotations

from knowcast.catalog import markdown
from knowcast.catalog.models import ConsultationSlot, Lesson, Product, ProductFile
from knowcast.catalog.schemas import FilePublic, LessonPublic, ProductPublic, SlotPublic


def cover_url(product: Product) -> str | None:
    return f"/uploads/covers/{product.cover_path}" if product.cover_path else None


def product_public(product: Product) -> ProductPublic:
    return ProductPublic(
        id=product.id,
        host_id=product.host_id,
        kind=product.kind,
        title=product.title,
        description_html=markdown.render(product.description),
        summary=markdown.plain(product.description),
        price=product.price,
        list_price=product.list_price,
        currency=product.currency,
        stock=product.stock,
        per_user_limit=product.per_user_limit,
        cover_url=cover_url(product),
        room_id=product.room_id,
        membership_days=product.membership_days,
        is_active=product.is_active,
    )


def lesson_public(lesson: Lesson, completed: bool) -> LessonPublic:
    return LessonPublic(
        id=lesson.id,
        position=lesson.position,
        title=lesson.title,
        kind=lesson.kind,
        body_html=markdown.render(lesson.body),
        media_url=lesson.media_url,
        completed=completed,
        release_after_days=lesson.release_after_days,
    )


def slot_public(slot: ConsultationSlot) -> SlotPublic:
    available = slot.held_by_order is None and slot.booked_by is None
    return SlotPublic(id=slot.id, starts_at=slot.starts_at, minutes=slot.minutes, available=available)


def file_public(row: ProductFile) -> FilePublic:
    return FilePublic(id=row.id, filename=row.filename, size=row.size)
