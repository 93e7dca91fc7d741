"""Profiles and segments, forecasts and the planner, experiments (and the browser's assignments)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from knowcast.accounts.models import Role, User
from knowcast.accounts.permissions import Permission
from knowcast.analytics import (
    advisor,
    experiments,
    facts_read,
    forecast,
    optimizer,
    outlook,
    planner,
    profiles,
    service,
)
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import ExperimentIn, OptimizeIn, PlanIn, PlanQuery, SegmentIn, SegmentOut
from knowcast.db.types import MAX_ROW_ID, utcnow
from knowcast.deps import Ctx, Db, Id, MaybeUser, Public, require
from knowcast.integrations.scopes import Scope
from knowcast.rooms import service as rooms

router = APIRouter(tags=["analytics"])  # mounted under /api/v1/analytics by routes.py
Reader = Annotated[User, Depends(require(Permission.MANAGE_ROOMS, scope=Scope.ANALYTICS_READ))]
Host = Annotated[User, Depends(require(Permission.MANAGE_ROOMS))]
HostQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="owner only: whose analytics")]


def host_of(user: User, host_id: int | None) -> int:
    """A host reads their own; the owner may name a host."""
    return host_id if host_id and user.role is Role.OWNER else user.id


# ---- profiles and segments --------------------------------------------------------------------------------


@router.get("/profiles")
async def list_profiles(
    db: Db, user: Reader, host_id: HostQuery = None, segment: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None
) -> dict[str, Any]:
    owner = host_of(user, host_id)
    found = await profiles.load(db, owner)
    if segment is not None:
        row = await service.get_segment(db, segment)
        service.ensure_host(row, owner, False)
        found = profiles.members(found, row.rules)
    found.sort(key=lambda p: p.ltv, reverse=True)
    return {"overview": profiles.overview(found), "profiles": [p.as_dict() for p in found[:200]]}


async def segment_out(db: Db, owner: int, row: Any, loaded: list[profiles.Profile] | None = None) -> SegmentOut:
    found = profiles.members(loaded if loaded is not None else await profiles.load(db, owner), row.rules)
    return SegmentOut(
        id=row.id, name=row.name, rules=row.rules, size=len(found), reachable=sum(p.user_id is not None for p in found)
    )


@router.get("/segments")
async def list_segments(db: Db, user: Reader, host_id: HostQuery = None) -> list[SegmentOut]:
    owner = host_of(user, host_id)
    loaded = await profiles.load(db, owner)
    return [await segment_out(db, owner, row, loaded) for row in await service.segments_of(db, owner)]


@router.post("/segments", status_code=201)
async def add_segment(data: SegmentIn, db: Db, user: Host) -> SegmentOut:
    row = await service.add_segment(db, user.id, data)
    return await segment_out(db, user.id, row)


@router.delete("/segments/{segment_id}", status_code=204)
async def delete_segment(segment_id: Id, db: Db, user: Host) -> Response:
    row = await service.get_segment(db, segment_id)
    service.ensure_host(row, user.id, user.role is Role.OWNER)
    await service.delete_segment(db, row)
    return Response(status_code=204)


@router.get("/segments/{segment_id}/audience")
async def audience(segment_id: Id, db: Db, user: Host) -> dict[str, Any]:
    """The accounts a coupon or draw can go to (consented members only)."""
    row = await service.get_segment(db, segment_id)
    service.ensure_host(row, user.id, user.role is Role.OWNER)
    ids = await service.audience_user_ids(db, row.host_id, segment_id)
    return {"segment_id": segment_id, "user_ids": ids}


# ---- forecasts and planner --------------------------------------------------------------------------------


@router.get("/forecast")
async def next_forecast(
    db: Db,
    user: Reader,
    host_id: HostQuery = None,
    room_id: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="a scheduled room: its time, reminders")
    ] = None,
) -> dict[str, Any]:
    """The next stream's GMV and viewers (the host's next scheduled room, or ``room_id``); the viewers use the
    reminders booked for it."""
    if room_id is not None:
        room = await rooms.get_managed_room(db, user, room_id)
        return await outlook.ahead(db, room.host_id, room)
    return await outlook.ahead(db, host_of(user, host_id))


@router.get("/rooms/{room_id}/projection")
async def projection(room_id: Id, ctx: Ctx, db: Db, user: Reader) -> dict[str, Any]:
    room = await rooms.get_managed_room(db, user, room_id)
    runtime = ctx.runtime(AnalyticsRuntime)
    board = await runtime.board(room_id)
    streams = await facts_read.streams_of(db, room.host_id, before=room.started_at)
    return forecast.projection(board, room.started_at, utcnow(), forecast.expected_minutes(streams))


@router.post("/plan")
async def plan(data: PlanIn, db: Db, user: Host) -> dict[str, Any]:
    return await planner.plan(db, user.id, data)


@router.post("/optimize")
async def optimize(data: OptimizeIn, db: Db, user: Host) -> dict[str, Any]:
    """The next stream's budget split, interaction plan and price that maximize expected R (or why not yet)."""
    limits = optimizer.Constraints(data.budget, data.min_price_ratio, data.max_price_ratio)
    return await planner.optimize(db, user.id, limits)


# ---- experiments ------------------------------------------------------------------------------------------


@router.get("/experiments")
async def list_experiments(db: Db, user: Reader, host_id: HostQuery = None) -> list[dict[str, Any]]:
    return [await experiments.analyse(db, row) for row in await service.experiments_of(db, host_of(user, host_id))]


@router.post("/experiments", status_code=201)
async def add_experiment(data: ExperimentIn, ctx: Ctx, db: Db, user: Host) -> dict[str, Any]:
    if data.room_id is not None:
        await rooms.get_managed_room(db, user, data.room_id)
    row = await service.add_experiment(db, user.id, data, any_host=user.role is Role.OWNER)
    intake = ctx.runtime(AnalyticsRuntime).intake
    if intake is not None:
        intake.running.forget(user.id)
    return await experiments.analyse(db, row)


@router.get("/experiments/sample-size")
async def sample_size(user: Reader, query: Annotated[PlanQuery, Query()]) -> dict[str, Any]:
    """The power calculator: visitors per variant to find the smallest lift worth finding (80 % power, α 5 %)."""
    return service.plan(query)


@router.get("/experiments/{experiment_id}")
async def get_experiment(experiment_id: Id, db: Db, user: Reader) -> dict[str, Any]:
    row = await service.get_experiment(db, experiment_id)
    service.ensure_host(row, user.id, user.role is Role.OWNER)
    return await experiments.analyse(db, row)


@router.post("/experiments/{experiment_id}/stop")
async def stop_experiment(experiment_id: Id, ctx: Ctx, db: Db, user: Host) -> dict[str, Any]:
    row = await service.get_experiment(db, experiment_id)
    service.ensure_host(row, user.id, user.role is Role.OWNER)
    await service.stop_experiment(db, row)
    intake = ctx.runtime(AnalyticsRuntime).intake
    if intake is not None:
        intake.running.forget(row.host_id)
    return await experiments.analyse(db, row)


@router.get("/rooms/{room_id}/assignments", dependencies=[Public])
async def assignments(request: Request, room_id: Id, ctx: Ctx, db: Db, user: MaybeUser) -> dict[str, Any]:
    """The viewer's variants in the room's running experiments (the page applies them); exposure recorded."""
    from knowcast.analytics.routes import visit_of

    runtime = ctx.runtime(AnalyticsRuntime)
    visit = await visit_of(request, ctx, db, user.id if user else None)
    assert runtime.intake is not None
    found = await experiments.assignments(db, runtime, runtime.intake.running, room_id, visit.visitor)
    return {"room_id": room_id, "assignments": found}


@router.get("/rooms/{room_id}/advice")
async def advice_history(room_id: Id, db: Db, user: Reader) -> list[dict[str, Any]]:
    """Every piece of advice raised in the room, whether it was dismissed, and its outcome."""
    await rooms.get_managed_room(db, user, room_id)
    return await advisor.history(db, room_id)
