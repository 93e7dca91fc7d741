"""The catalog's part of the personal-data export and of account deletion (privacy/service.py lists both):
course progress and consultation bookings.

A booked consultation slot stays taken after a deletion (its paid order still holds it, for the books), but
no longer names the person.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.catalog.models import ConsultationSlot, Lesson, LessonProgress, Product
from knowcast.privacy.records import Tables, row, update_where


async def export_personal_data(session: AsyncSession, user: User) -> Tables:
    progress = await session.execute(
        select(LessonProgress, Lesson)
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id == user.id)
        .order_by(LessonProgress.id)
    )
    slots = await session.execute(
        select(ConsultationSlot, Product.title)
        .join(Product, Product.id == ConsultationSlot.product_id)
        .where(ConsultationSlot.booked_by == user.id)
        .order_by(ConsultationSlot.starts_at)
    )
    return {
        "lessons_completed": [
            row(p, "lesson_id", "completed_at", product_id=lesson.product_id, title=lesson.title)
            for p, lesson in progress.tuples()
        ],
        "consultations_booked": [
            row(s, "product_id", "starts_at", "minutes", order_id=s.held_by_order, title=title)
            for s, title in slots.tuples()
        ],
    }


async def erase_personal_data(session: AsyncSession, user: User) -> None:
    """Does not commit: it runs inside the deletion's transaction."""
    await session.execute(delete(LessonProgress).where(LessonProgress.user_id == user.id))
    await update_where(session, ConsultationSlot, ConsultationSlot.booked_by == user.id, booked_by=None)
