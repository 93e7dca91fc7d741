"""What a buyer sees of a course they own: lessons in order, which are open (drip release counts from the
purchase), progress, and signed links to uploaded lesson videos and files. The course's host sees every lesson.

A locked lesson shows its title and when it opens, never its content.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import Role, User
from knowcast.catalog import courses
from knowcast.catalog import service as catalog
from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.models import Lesson, Product, ProductFile
from knowcast.catalog.schemas import CourseView, LessonPublic
from knowcast.catalog.views import lesson_public, product_public
from knowcast.commerce import entitlements
from knowcast.commerce.errors import CommerceCode
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound, PermissionDenied


def is_host(user: User, product: Product) -> bool:
    return user.id == product.host_id or user.role is Role.OWNER


async def get_course(session: AsyncSession, product_id: int) -> Product:
    product = await catalog.get_product(session, product_id)
    if product.kind is not ProductKind.COURSE:
        raise NotFound("no such course", code=CommerceCode.COURSE_NOT_FOUND)
    return product


async def course_view(session: AsyncSession, ctx: AppContext, user: User, product: Product) -> CourseView:
    """The course as this user may see it; raises library.not_owned for someone who has not bought it."""
    since = None
    if not is_host(user, product):
        since = await entitlements.owned_since(session, user.id, product.id)
        if since is None:
            raise PermissionDenied("buy this course first", code=CommerceCode.LIBRARY_NOT_OWNED)
    done = await catalog.completed_lessons(session, user.id, product.id)
    files = await courses.lesson_files(session, product.id)
    lessons = [
        _lesson(ctx, user, lesson, lesson.id in done, since, files.get(lesson.id))
        for lesson in await catalog.lessons_of(session, product.id)
    ]
    completed = sum(1 for lesson in lessons if lesson.completed)
    return CourseView(product=product_public(product), lessons=lessons, completed=completed, total=len(lessons))


def _lesson(
    ctx: AppContext, user: User, lesson: Lesson, completed: bool, since: datetime | None, stored: ProductFile | None
) -> LessonPublic:
    opens = courses.opens_at(lesson, since)
    locked = opens is not None and opens > utcnow()
    public = lesson_public(lesson, completed=completed)
    public.release_after_days = lesson.release_after_days
    public.available_at = opens
    public.locked = locked
    if locked:
        public.body_html, public.media_url = "", None
    elif stored is not None:
        public.media_url = entitlements.download_url(ctx, stored.id, user.id)
    return public


async def ensure_lesson_open(session: AsyncSession, user: User, lesson: Lesson) -> None:
    """The user owns the lesson's course and drip release has opened it (the host always may)."""
    product = await catalog.get_product(session, lesson.product_id)
    if is_host(user, product):
        return
    since = await entitlements.owned_since(session, user.id, product.id)
    if since is None:
        raise NotFound("no such lesson", code=CatalogCode.LESSON_NOT_FOUND)
    if not courses.is_open(lesson, since, utcnow()):
        raise Conflict("this lesson opens later", code=CatalogCode.LESSON_LOCKED)


async def may_fetch(session: AsyncSession, user_id: int, row: ProductFile) -> bool:
    """May this user fetch a stored product file: its host may; a buyer while they own the product and, for a
    lesson's upload, once drip release has opened the lesson."""
    product = await catalog.get_product(session, row.product_id)
    if user_id == product.host_id:
        return True
    since = await entitlements.owned_since(session, user_id, product.id)
    if since is None:
        return False
    if row.lesson_id is None:
        return True
    lesson = await session.get(Lesson, row.lesson_id)
    return lesson is not None and courses.is_open(lesson, since, utcnow())
