"""Review report (JSON, CSV, PNG), costs, share links with QR codes, and channel tables for one room."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from knowcast import i18n
from knowcast.accounts.models import Role, User
from knowcast.accounts.permissions import Permission
from knowcast.analytics import channels, export, report, service
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import CostIn, CostOut, ShareLinkIn, ShareLinkOut
from knowcast.deps import Ctx, Db, Id, require
from knowcast.integrations.scopes import Scope
from knowcast.rooms import service as rooms

router = APIRouter(tags=["analytics"])  # mounted under /api/v1/analytics by routes.py
Reader = Annotated[User, Depends(require(Permission.MANAGE_ROOMS, scope=Scope.ANALYTICS_READ))]
Host = Annotated[User, Depends(require(Permission.MANAGE_ROOMS))]
ModelQuery = Annotated[Literal["last", "first"], Query(description="attribution: last touch (default) or first")]


async def room_report(ctx: Ctx, db: Db, user: User, room_id: int, model: str = "last") -> dict[str, Any]:
    await rooms.get_managed_room(db, user, room_id)
    runtime = ctx.runtime_or_none(AnalyticsRuntime)
    if runtime is not None:
        await runtime.flush()  # the figures include what is still queued
    hours = ctx.settings.analytics_attribution_hours
    return await report.review(db, room_id, hours, "first" if model == "first" else "last")


@router.get("/rooms/{room_id}/report")
async def report_json(room_id: Id, ctx: Ctx, db: Db, user: Reader, model: ModelQuery = "last") -> dict[str, Any]:
    return await room_report(ctx, db, user, room_id, model)


@router.get("/rooms/{room_id}/report.csv")
async def report_csv(room_id: Id, ctx: Ctx, db: Db, user: Reader, model: ModelQuery = "last") -> Response:
    body = export.to_csv(await room_report(ctx, db, user, room_id, model))
    headers = {"content-disposition": f'attachment; filename="room-{room_id}-review.csv"'}
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8", headers=headers)  # BOM: Excel reads UTF-8


@router.get("/rooms/{room_id}/report.png")
async def report_png(request: Request, room_id: Id, ctx: Ctx, db: Db, user: Reader) -> Response:
    png = await _card(request, ctx, db, user, room_id, export.to_png)
    return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=60"})


@router.get("/rooms/{room_id}/report.pdf")
async def report_pdf(request: Request, room_id: Id, ctx: Ctx, db: Db, user: Reader) -> Response:
    pdf = await _card(request, ctx, db, user, room_id, export.to_pdf)
    headers = {"content-disposition": f'attachment; filename="room-{room_id}-review.pdf"'}
    return Response(pdf, media_type="application/pdf", headers={"cache-control": "private, max-age=60", **headers})


async def _card(request: Request, ctx: Ctx, db: Db, user: User, room_id: int, render: Callable[..., bytes]) -> bytes:
    """The shareable card in the reader's language: their own locale, else the request's."""
    data = await room_report(ctx, db, user, room_id)
    room = await rooms.get_room(db, room_id)
    locale = getattr(request.state, "locale", ctx.settings.default_locale)
    if user.locale in i18n.LOCALES:
        locale = user.locale

    def label(key: str) -> str:
        return i18n.translate(locale, f"analytics.{key}")

    return render(data, room.title, label)


# ---- costs ------------------------------------------------------------------------------------------------


def cost_out(row: Any) -> CostOut:
    return CostOut(
        id=row.id,
        room_id=row.room_id,
        category=row.category,
        channel=row.channel,
        amount=row.amount,
        currency=row.currency,
        note=row.note,
    )


@router.get("/rooms/{room_id}/costs")
async def list_costs(room_id: Id, db: Db, user: Reader) -> list[CostOut]:
    await rooms.get_managed_room(db, user, room_id)
    return [cost_out(c) for c in await service.costs_of(db, room_id)]


@router.post("/rooms/{room_id}/costs", status_code=201)
async def add_cost(room_id: Id, data: CostIn, ctx: Ctx, db: Db, user: Host) -> CostOut:
    room = await rooms.get_managed_room(db, user, room_id)
    return cost_out(await service.add_cost(db, room.host_id, room_id, data, ctx.settings.default_currency))


@router.delete("/costs/{cost_id}", status_code=204)
async def delete_cost(cost_id: Id, db: Db, user: Host) -> Response:
    row = await service.get_cost(db, cost_id)
    await rooms.get_managed_room(db, user, row.room_id)
    await service.delete_cost(db, row)
    return Response(status_code=204)


# ---- share links and QR codes ------------------------------------------------------------------------------


def link_out(ctx: Ctx, row: Any) -> ShareLinkOut:
    url = channels.share_url(ctx.settings.public_url, row.room_id, row.source, row.medium, row.campaign)
    return ShareLinkOut(
        id=row.id,
        room_id=row.room_id,
        source=row.source,
        medium=row.medium,
        campaign=row.campaign,
        url=url,
        qr_url=f"/api/v1/analytics/links/{row.id}/qr.svg",
    )


@router.get("/rooms/{room_id}/links")
async def list_links(room_id: Id, ctx: Ctx, db: Db, user: Reader) -> list[ShareLinkOut]:
    await rooms.get_managed_room(db, user, room_id)
    return [link_out(ctx, row) for row in await service.links_of(db, room_id)]


@router.post("/rooms/{room_id}/links", status_code=201)
async def add_link(room_id: Id, data: ShareLinkIn, ctx: Ctx, db: Db, user: Host) -> ShareLinkOut:
    room = await rooms.get_managed_room(db, user, room_id)
    return link_out(ctx, await service.add_link(db, room.host_id, room_id, data))


@router.get("/links/{link_id}/qr.svg")
async def link_qr(link_id: Id, ctx: Ctx, db: Db, user: Reader) -> Response:
    row = await service.get_link(db, link_id)
    await rooms.get_managed_room(db, user, row.room_id)
    svg = channels.qr_svg(link_out(ctx, row).url)
    return Response(svg, media_type="image/svg+xml", headers={"cache-control": "private, max-age=3600"})


def is_owner(user: User) -> bool:
    return user.role is Role.OWNER
