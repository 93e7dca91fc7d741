"""The buyer's course page: lessons in order with progress ("已学 x / y 节"), drip-locked lessons shown with
the day they open, and the chosen lesson's video, text, link or file."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from knowcast.catalog import service as catalog
from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.models import Lesson
from knowcast.commerce import course_access
from knowcast.deps import Ctx, CurrentUser, Db, Id
from knowcast.errors import NotFound
from knowcast.web.templating import pages_of as pages

router = APIRouter(prefix="/library")


@router.get("/courses/{product_id}")
async def course_page(
    request: Request, product_id: Id, ctx: Ctx, db: Db, user: CurrentUser, lesson: int = 0
) -> Response:
    product = await course_access.get_course(db, product_id)
    view = await course_access.course_view(db, ctx, user, product)
    open_lessons = [item for item in view.lessons if not item.locked]
    current = next((item for item in view.lessons if item.id == lesson), None)
    if current is None:  # the first open lesson not done yet, else the first open one
        current = next((item for item in open_lessons if not item.completed), open_lessons[0] if open_lessons else None)
    index = view.lessons.index(current) if current else -1
    following = next((item for item in view.lessons[index + 1 :] if not item.locked), None) if current else None
    return pages(request).render(
        request, "course.html", course=view, current=current, number=index + 1, following=following
    )


@router.post("/lessons/{lesson_id}/complete")
async def complete(lesson_id: Id, db: Db, user: CurrentUser) -> Response:
    lesson = await db.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound("no such lesson", code=CatalogCode.LESSON_NOT_FOUND)
    await course_access.ensure_lesson_open(db, user, lesson)
    await catalog.complete_lesson(db, user.id, lesson_id)
    following = next(
        (item for item in await catalog.lessons_of(db, lesson.product_id) if item.position > lesson.position), None
    )
    target = f"?lesson={following.id}" if following else f"?lesson={lesson.id}"
    return RedirectResponse(f"/library/courses/{lesson.product_id}{target}", status_code=303)
