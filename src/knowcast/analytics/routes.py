"""Analytics JSON API: browser intake (public), the live dashboard and everything else for the host.

Host-only figures are served here to the room's host (or the owner) and are never broadcast to viewers.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from knowcast.accounts.models import User
from knowcast.accounts.permissions import Permission
from knowcast.analytics import advisor, insight_routes, report_routes
from knowcast.analytics import models as m
from knowcast.analytics.channels import device_of
from knowcast.analytics.identity import user_key
from knowcast.analytics.intake import Visit
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import EventBatch, IntakeResult
from knowcast.db.types import utcnow
from knowcast.deps import Ctx, Db, Id, MaybeUser, Owner, Public, client_ip, require
from knowcast.integrations.scopes import Scope
from knowcast.privacy import consent
from knowcast.privacy.visitors import VisitorIds
from knowcast.rooms import service as rooms

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
Reader = Annotated[User, Depends(require(Permission.MANAGE_ROOMS, scope=Scope.ANALYTICS_READ))]
Host = Annotated[User, Depends(require(Permission.MANAGE_ROOMS))]
router.include_router(report_routes.router)
router.include_router(insight_routes.router)


async def visit_of(request: HTTPConnection, ctx: Ctx, db: AsyncSession | None, user_id: int | None) -> Visit:
    """The sender as docs/metrics.md counts them: account id if signed in and consented, else the daily pseudonym.
    ``request`` is the HTTP request or, for events sent on the live socket, the socket's handshake; ``db`` may
    be None when the visitor ids need no database (``VisitorIds.ready``)."""
    agreed = consent.state(request.headers, request.cookies).analytics
    agent = request.headers.get("user-agent", "")[:400]
    address = client_ip(request)
    visitor = await ctx.runtime(VisitorIds).visitor_id(db, user_id, agreed, address, agent)
    previous = await ctx.runtime(VisitorIds).previous(db, address, agent) if visitor.startswith("p:") else None
    key = user_key(ctx.settings.secret_key, user_id) if user_id else None
    return Visit(visitor, key, device_of(agent), urlsplit(ctx.settings.public_url).hostname or "", previous)


@router.post("/events", status_code=202, dependencies=[Public])
async def intake(request: Request, batch: EventBatch, ctx: Ctx, db: Db, user: MaybeUser) -> IntakeResult:
    runtime = ctx.runtime(AnalyticsRuntime)
    assert runtime.intake is not None
    return await runtime.intake.accept(await visit_of(request, ctx, db, user.id if user else None), batch.events)


@router.get("/rooms/{room_id}/live")
async def live(room_id: Id, ctx: Ctx, db: Db, user: Reader) -> dict[str, Any]:
    """The live dashboard: every figure of docs/metrics.md so far, the advisor's current advice."""
    await rooms.get_managed_room(db, user, room_id)
    runtime = ctx.runtime(AnalyticsRuntime)
    board = await runtime.board(room_id)
    now = utcnow()
    snap = board.snapshot(now)
    await runtime.learn_products(db, [p["product_id"] for p in snap["top_products"] if p["product_id"]])
    for product in snap["top_products"]:
        product["title"] = runtime.products.get(product["product_id"] or 0, {}).get("title", "")
    snap["reminders"] = await reminders_of(runtime, db, room_id)
    snap["rejected_events"] = runtime.rejected[room_id]
    snap["attribution_hours"] = ctx.settings.analytics_attribution_hours
    snap["advice"] = await advisor.advise(db, board, snap, now)
    return snap


async def reminders_of(runtime: AnalyticsRuntime, db: Db, room_id: int) -> int:
    """Bookings before the room went live: as this process learned them, else as stored (after a restart)."""
    info = await runtime.room_info(room_id)
    if info is not None and info.reminders is not None:
        return info.reminders
    row = await db.get(m.AnalyticsRoom, room_id)
    return row.reminders if row is not None else 0


@router.post("/advice/{advice_id}/dismiss")
async def dismiss(advice_id: Id, db: Db, user: Host) -> dict[str, Any]:
    row = await advisor.get_advice(db, advice_id)
    await rooms.get_managed_room(db, user, row.room_id)
    await advisor.dismiss(db, row)
    return {"id": row.id, "dismissed": True}


@router.get("/rejections")
async def rejections(ctx: Ctx, db: Db, _owner: Owner) -> dict[str, Any]:
    """Forged or impossible browser events dropped at intake, per room and reason (never counted)."""
    rows = (await db.scalars(select(m.Rejection).order_by(m.Rejection.count.desc()).limit(500))).all()
    runtime = ctx.runtime(AnalyticsRuntime)
    return {
        "total": sum(r.count for r in rows),
        "since_start": sum(runtime.rejected.values()),
        "rows": [{"room_id": r.room_id or None, "reason": r.reason, "count": r.count} for r in rows],
    }
