"""The studio home: live, upcoming and past rooms as cards with their numbers, and the next things to do.

Sales come from commerce; viewers from analytics through the ``room_figures`` port (knowcast.ports), so this
page works, with fewer numbers, in an app without analytics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.catalog import courses
from knowcast.catalog import service as catalog
from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.models import Product
from knowcast.commerce import shelf, summary
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.ports import RoomFigures
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room
from knowcast.rooms.states import RoomState

SOON = timedelta(hours=24)
PAST_SHOWN = 12


@dataclass
class Action:
    """One next step: a translation key with its parameters, and where to do it."""

    key: str
    href: str
    params: dict[str, object] = field(default_factory=dict)
    urgent: bool = False


@dataclass
class Home:
    live: list[Room]
    upcoming: list[Room]
    past: list[Room]
    sales: dict[int, summary.Sales]
    figures: dict[int, RoomFigures]
    shelf_counts: dict[int, int]
    totals: summary.Sales
    products: int
    actions: list[Action]


async def studio_home(session: AsyncSession, ctx: AppContext, host: User) -> Home:
    mine = await rooms.rooms_of_host(session, host)
    live = [r for r in mine if r.state in (RoomState.LIVE, RoomState.RECONNECTING)]
    upcoming = sorted((r for r in mine if r.state is RoomState.SCHEDULED), key=lambda r: r.scheduled_at)
    past = sorted((r for r in mine if r.state is RoomState.ENDED), key=lambda r: r.ended_at or r.scheduled_at)
    past = list(reversed(past))[:PAST_SHOWN]
    shown = live + upcoming + past
    counts = {r.id: len(await shelf.shelf_of(session, r.id)) for r in live + upcoming}
    figures = await ctx.room_figures(session, host.id) if ctx.room_figures else {}
    products = await catalog.products_of_host(session, host)
    home = Home(
        live=live,
        upcoming=upcoming,
        past=past,
        sales=await summary.by_room(session, [r.id for r in shown]),
        figures=figures,
        shelf_counts=counts,
        totals=await summary.totals(session, host.id),
        products=len(products),
        actions=[],
    )
    home.actions = await _actions(session, home, products)
    return home


async def _actions(session: AsyncSession, home: Home, products: list[Product]) -> list[Action]:
    actions = [Action("studio.todo.live", f"/studio/rooms/{r.id}", {"title": r.title}, True) for r in home.live]
    now = utcnow()
    for room in home.upcoming:
        if room.scheduled_at - now < SOON:
            actions.append(Action("studio.todo.soon", f"/studio/rooms/{room.id}", {"title": room.title}, True))
        if not home.shelf_counts.get(room.id):
            actions.append(Action("studio.todo.shelf", f"/studio/rooms/{room.id}#tab-shelf", {"title": room.title}))
    if not products:
        actions.append(Action("studio.todo.first_product", "/studio/products/new?kind=course"))
    course_ids = [p.id for p in products if p.kind is ProductKind.COURSE]
    counts = await courses.lesson_counts(session, course_ids)
    for product in products:
        if product.id in course_ids and not counts.get(product.id):
            where = f"/studio/products/{product.id}#lessons"
            actions.append(Action("studio.todo.lessons", where, {"title": product.title}))
    if not home.upcoming and not home.live:
        actions.append(Action("studio.todo.schedule", "/studio/rooms/new"))
    if home.past:
        last = home.past[0]
        actions.append(Action("studio.todo.review", f"/studio/rooms/{last.id}/review", {"title": last.title}))
    return actions
