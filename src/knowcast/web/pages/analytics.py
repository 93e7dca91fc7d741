"""The host's analytics pages: overview, review report (复盘), channels and costs, profiles, forecasts and the
planner, experiments. Figures come from knowcast.analytics (the only place outside it that imports it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from knowcast.accounts.models import Role, User
from knowcast.analytics import experiments, facts_read, optimizer, outlook, planner, profiles, report, service
from knowcast.analytics.channels import share_url
from knowcast.analytics.errors import AnalyticsCode
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import CostIn, ExperimentIn, OptimizeIn, PlanIn, PlanQuery, SegmentIn, ShareLinkIn
from knowcast.deps import Ctx, Db, Host, Id
from knowcast.errors import KnowcastError, ValidationFailed
from knowcast.rooms import service as rooms
from knowcast.web.pages.forms import form_values, parse
from knowcast.web.templating import pages_of as pages

router = APIRouter(prefix="/studio")


async def _report(ctx: Ctx, db: Db, user: User, room_id: int, model: str) -> tuple[Any, dict[str, Any]]:
    room = await rooms.get_managed_room(db, user, room_id)
    runtime = ctx.runtime_or_none(AnalyticsRuntime)
    if runtime is not None:
        await runtime.flush()
    try:
        data = await report.review(
            db, room_id, ctx.settings.analytics_attribution_hours, "first" if model == "first" else "last"
        )
    except KnowcastError:
        data = {}
    return room, data


@router.get("/analytics")
async def overview(request: Request, db: Db, host: Host) -> Response:
    streams = await facts_read.streams_of(db, host.id)
    mine = {r.id: r for r in await rooms.rooms_of_host(db, host)}
    rows = [(mine.get(s.room_id), s) for s in reversed(streams)]
    return pages(request).render(request, "analytics_home.html", rows=[(r, s) for r, s in rows if r is not None])


@router.get("/rooms/{room_id}/review")
async def review_page(request: Request, room_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    model = request.query_params.get("model", "last")
    room, data = await _report(ctx, db, host, room_id, model)
    return pages(request).render(request, "analytics_report.html", room=room, report=data, model=model)


@router.get("/rooms/{room_id}/channels")
async def channels_page(request: Request, room_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    return await _channels(request, room_id, ctx, db, host)


async def _channels(
    request: Request, room_id: int, ctx: Ctx, db: Db, host: User, error: KnowcastError | None = None
) -> Response:
    model = request.query_params.get("model", "last")
    room, data = await _report(ctx, db, host, room_id, model)
    links = [
        (link, share_url(ctx.settings.public_url, room_id, link.source, link.medium, link.campaign))
        for link in await service.links_of(db, room_id)
    ]
    costs = await service.costs_of(db, room_id)
    status = error.status_code if error else 200
    return pages(request).render(
        request,
        "analytics_channels.html",
        status,
        room=room,
        report=data,
        model=model,
        links=links,
        costs=costs,
        error=error,
    )


@router.post("/rooms/{room_id}/channels/links")
async def add_link(request: Request, room_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    room = await rooms.get_managed_room(db, host, room_id)
    try:
        await service.add_link(db, room.host_id, room_id, parse(ShareLinkIn, await form_values(request)))
    except KnowcastError as error:
        return await _channels(request, room_id, ctx, db, host, error)
    return RedirectResponse(f"/studio/rooms/{room_id}/channels", status_code=303)


@router.post("/rooms/{room_id}/channels/costs")
async def add_cost(request: Request, room_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    room = await rooms.get_managed_room(db, host, room_id)
    values: dict[str, Any] = dict(await form_values(request))
    try:
        values["amount"] = _minor(values.get("amount", ""))
        await service.add_cost(db, room.host_id, room_id, parse(CostIn, values), ctx.settings.default_currency)
    except KnowcastError as error:
        return await _channels(request, room_id, ctx, db, host, error)
    return RedirectResponse(f"/studio/rooms/{room_id}/channels", status_code=303)


def _minor(text: str) -> int:
    """ "12.5" yuan → 1250 fen."""
    try:
        value = round(float(text.strip()) * 100)
    except ValueError:
        raise ValidationFailed(
            "enter an amount", code=AnalyticsCode.COST_AMOUNT_INVALID, fields={"amount": "not a number"}
        ) from None
    if not 0 <= value <= 10**12:
        raise ValidationFailed(
            "enter an amount", code=AnalyticsCode.COST_AMOUNT_INVALID, fields={"amount": "out of range"}
        )
    return value


@router.get("/analytics/profiles")
async def profiles_page(request: Request, db: Db, host: Host) -> Response:
    return await _profiles(request, db, host)


async def _profiles(request: Request, db: Db, host: User, error: KnowcastError | None = None) -> Response:
    found = await profiles.load(db, host.id)
    segments = [(row, len(profiles.members(found, row.rules))) for row in await service.segments_of(db, host.id)]
    found.sort(key=lambda p: p.ltv, reverse=True)
    status = error.status_code if error else 200
    return pages(request).render(
        request,
        "analytics_profiles.html",
        status,
        overview=profiles.overview(found),
        people=found[:100],
        segments=segments,
        error=error,
    )


@router.post("/analytics/segments")
async def add_segment(request: Request, db: Db, host: Host) -> Response:
    values = await form_values(request)
    rules: dict[str, Any] = {k: v for k, v in values.items() if k != "name" and v}
    if "rfm" in rules:
        rules["rfm"] = [rules["rfm"]]
    rules["consented_only"] = "consented_only" in values
    try:
        await service.add_segment(db, host.id, parse(SegmentIn, {"name": values.get("name", ""), "rules": rules}))
    except KnowcastError as error:
        return await _profiles(request, db, host, error)
    return RedirectResponse("/studio/analytics/profiles", status_code=303)


@router.get("/analytics/forecasts")
async def forecasts_page(request: Request, db: Db, host: Host) -> Response:
    ahead = await outlook.ahead(db, host.id)
    query = request.query_params
    plan_in = PlanIn()
    error: KnowcastError | None = None
    try:
        spend = {query["channel"]: _minor(query.get("budget", "0"))} if query.get("channel") else {}
        rate = float(query["interaction"]) / 100 if query.get("interaction") else None
        change = float(query.get("price", "0") or 0) / 100
        plan_in = parse(PlanIn, {"spend": spend, "interaction_rate": rate, "price_change": change})
    except (KnowcastError, ValueError) as exc:
        error = (
            exc
            if isinstance(exc, KnowcastError)
            else ValidationFailed("enter numbers", code=AnalyticsCode.PLAN_INVALID)
        )
    plan = await planner.plan(db, host.id, plan_in)
    best = None
    if "cap" in query:
        try:
            limits = parse(
                OptimizeIn,
                {"budget": _minor(query.get("cap") or "0"), "min_price_ratio": float(query.get("floor") or 80) / 100},
            )
            best = await planner.optimize(db, host.id, optimizer.Constraints(limits.budget, limits.min_price_ratio))
        except (KnowcastError, ValueError) as exc:
            error = (
                exc
                if isinstance(exc, KnowcastError)
                else ValidationFailed("enter numbers", code=AnalyticsCode.PLAN_INVALID)
            )
    page, status = "analytics_forecasts.html", error.status_code if error else 200
    return pages(request).render(request, page, status, ahead=ahead, plan=plan, best=best, values=query, error=error)


@router.get("/analytics/experiments")
async def experiments_page(request: Request, db: Db, host: Host) -> Response:
    """The experiments; with ``baseline``, ``effect`` and ``variants`` in the query, the sample-size calculator's
    answer too (the form's second button)."""
    return await _experiments(request, db, host, values=dict(request.query_params))


def _plan_values(values: dict[str, str]) -> dict[str, Any]:
    """The form's percentages as the plan's fractions (baseline 5 → 0.05, effect 20 → 0.2)."""
    keys = [k.strip() for k in values.get("variants", "").split(",") if k.strip()]
    try:
        baseline = float(values.get("baseline") or 5) / 100
        effect = float(values.get("effect") or 20) / 100
    except ValueError:
        raise ValidationFailed("enter numbers", code=AnalyticsCode.EXPERIMENT_INVALID_PLAN) from None
    return {"keys": keys, "baseline_rate": baseline, "min_effect": effect}


async def _experiments(
    request: Request, db: Db, host: User, error: KnowcastError | None = None, values: dict[str, str] | None = None
) -> Response:
    found = [await experiments.analyse(db, row) for row in await service.experiments_of(db, host.id)]
    values = values or {}
    calc: dict[str, Any] = {
        "baseline": values.get("baseline", "5"),
        "effect": values.get("effect", "20"),
        "variants_text": values.get("variants", ""),
        "plan": None,
    }
    if "baseline" in values and error is None:
        try:
            given = _plan_values(values)
            query = {"baseline_rate": given["baseline_rate"], "min_effect": given["min_effect"]}
            calc["plan"] = service.plan(parse(PlanQuery, {**query, "variants": max(2, len(given["keys"]))}))
        except KnowcastError as exc:
            error = exc
    status = error.status_code if error else 200
    page = "analytics_experiments.html"
    return pages(request).render(request, page, status, experiments=found, error=error, calc=calc)


@router.post("/analytics/experiments")
async def add_experiment(request: Request, ctx: Ctx, db: Db, host: Host) -> Response:
    values = await form_values(request)
    try:
        given = _plan_values(values)
        data = {
            "name": values.get("name", ""),
            "subject": values.get("subject", ""),
            "variants": [{"key": k} for k in given["keys"]],
            "baseline_rate": given["baseline_rate"],
            "min_effect": given["min_effect"],
        }
        await service.add_experiment(db, host.id, parse(ExperimentIn, data), any_host=host.role is Role.OWNER)
    except KnowcastError as error:
        return await _experiments(request, db, host, error, values)
    runtime = ctx.runtime_or_none(AnalyticsRuntime)
    if runtime is not None and runtime.intake is not None:
        runtime.intake.running.forget(host.id)
    return RedirectResponse("/studio/analytics/experiments", status_code=303)
