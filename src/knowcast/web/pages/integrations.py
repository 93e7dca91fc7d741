"""Studio pages for integrations: API tokens (hosts and the owner) and webhooks with their delivery log (owner)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from knowcast.accounts.models import Role, User
from knowcast.deps import Ctx, Db, Host, Id, Owner
from knowcast.errors import KnowcastError
from knowcast.integrations import tokens, webhooks
from knowcast.integrations.dispatcher import wake
from knowcast.integrations.events import WebhookEvent
from knowcast.integrations.models import DeliveryStatus, WebhookEndpoint
from knowcast.integrations.schemas import EndpointCreate, EndpointUpdate, TokenCreate
from knowcast.integrations.scopes import grantable
from knowcast.web.pages.forms import parse
from knowcast.web.templating import pages_of as pages

router = APIRouter(prefix="/studio")
EXPIRY_CHOICES = (30, 90, 365)
LOG_PAGE = 50


async def _form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Single values, and the lists sent by checkbox groups."""
    form = await request.form()
    single = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    lists = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in ("scopes", "events")}
    return single, lists


# ---- API tokens ------------------------------------------------------------------------------------------


async def _tokens_page(request: Request, db: Db, user: User, status_code: int = 200, **context: object) -> Response:
    rows = await tokens.list_tokens(db, user)
    return pages(request).render(
        request,
        "integrations_tokens.html",
        status_code,
        tokens=[(row, tokens.state_of(row)) for row in rows],
        scopes=grantable(user.role),
        expiry_choices=EXPIRY_CHOICES,
        holders=await tokens.holders(db, rows) if user.role is Role.OWNER else None,
        **{"error": None, "new_token": None, "values": {}, "flags": request.query_params, **context},
    )


@router.get("/tokens")
async def tokens_page(request: Request, db: Db, user: Host) -> Response:
    return await _tokens_page(request, db, user)


@router.post("/tokens")
async def create_token(request: Request, ctx: Ctx, db: Db, user: Host) -> Response:
    values, lists = await _form(request)
    data = {"name": values.get("name", ""), "scopes": lists["scopes"], "expires_in_days": values.get("expires") or None}
    try:
        new = await tokens.create_token(db, ctx, user, parse(TokenCreate, data))
    except KnowcastError as error:
        return await _tokens_page(request, db, user, error.status_code, error=error, values=values)
    return await _tokens_page(request, db, user, 201, new_token=new.token)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: Id, ctx: Ctx, db: Db, user: Host) -> Response:
    await tokens.revoke_token(db, ctx, user, token_id)
    return RedirectResponse("/studio/tokens?revoked=1", status_code=303)


# ---- webhooks --------------------------------------------------------------------------------------------


@router.get("/webhooks")
async def webhooks_page(request: Request, db: Db, _owner: Owner) -> Response:
    return await _webhooks_page(request, db)


async def _webhooks_page(request: Request, db: Db, status_code: int = 200, **context: object) -> Response:
    return pages(request).render(
        request,
        "integrations_webhooks.html",
        status_code,
        endpoints=await webhooks.list_endpoints(db),
        events=list(WebhookEvent),
        **{"error": None, "values": {}, "chosen": [], "flags": request.query_params, **context},
    )


@router.post("/webhooks")
async def create_endpoint(request: Request, ctx: Ctx, db: Db, owner: Owner) -> Response:
    values, lists = await _form(request)
    data = {"url": values.get("url", ""), "description": values.get("description", ""), "events": lists["events"]}
    try:
        endpoint = await webhooks.create_endpoint(db, ctx, owner, parse(EndpointCreate, data))
    except KnowcastError as error:
        return await _webhooks_page(request, db, error.status_code, error=error, values=values, chosen=lists["events"])
    secret = webhooks.secret_of(endpoint)
    return await _endpoint_page(request, db, endpoint, 201, secret=secret)


async def _endpoint_page(
    request: Request, db: Db, endpoint: WebhookEndpoint, status_code: int = 200, **context: object
) -> Response:
    query = request.query_params
    status = query.get("status", "")
    before = query.get("before")
    where = webhooks.DeliveryFilter(
        endpoint_id=endpoint.id,
        status=DeliveryStatus(status) if status in DeliveryStatus.__members__.values() else None,
        before=int(before) if before and before.isdigit() and len(before) < 19 else None,
        limit=LOG_PAGE,
    )
    rows = await webhooks.list_deliveries(db, where)
    return pages(request).render(
        request,
        "integrations_webhook.html",
        status_code,
        endpoint=endpoint,
        events=list(WebhookEvent),
        deliveries=rows,
        status_filter=where.status.value if where.status else "",
        older=rows[-1].id if len(rows) == LOG_PAGE else None,
        **{"error": None, "secret": None, "flags": query, **context},
    )


@router.get("/webhooks/{endpoint_id}")
async def endpoint_page(request: Request, endpoint_id: Id, db: Db, _owner: Owner) -> Response:
    return await _endpoint_page(request, db, await webhooks.get_endpoint(db, endpoint_id))


@router.post("/webhooks/{endpoint_id}")
async def update_endpoint(request: Request, endpoint_id: Id, ctx: Ctx, db: Db, owner: Owner) -> Response:
    endpoint = await webhooks.get_endpoint(db, endpoint_id)
    values, lists = await _form(request)
    data = {
        "url": values.get("url", ""),
        "description": values.get("description", ""),
        "events": lists["events"],
        "is_active": values.get("is_active") == "on",
    }
    try:
        await webhooks.update_endpoint(db, ctx, owner, endpoint, parse(EndpointUpdate, data))
    except KnowcastError as error:
        await db.refresh(endpoint)
        return await _endpoint_page(request, db, endpoint, error.status_code, error=error)
    wake(ctx)
    return RedirectResponse(f"/studio/webhooks/{endpoint.id}?saved=1", status_code=303)


@router.post("/webhooks/{endpoint_id}/secret")
async def roll_secret(request: Request, endpoint_id: Id, ctx: Ctx, db: Db, owner: Owner) -> Response:
    endpoint = await webhooks.get_endpoint(db, endpoint_id)
    secret = await webhooks.roll_secret(db, ctx, owner, endpoint)
    return await _endpoint_page(request, db, endpoint, secret=secret)


@router.post("/webhooks/{endpoint_id}/ping")
async def ping(endpoint_id: Id, ctx: Ctx, db: Db, _owner: Owner) -> Response:
    await webhooks.ping(db, ctx, await webhooks.get_endpoint(db, endpoint_id))
    wake(ctx)
    return RedirectResponse(f"/studio/webhooks/{endpoint_id}?pinged=1", status_code=303)


@router.post("/webhooks/{endpoint_id}/delete")
async def delete_endpoint(endpoint_id: Id, ctx: Ctx, db: Db, owner: Owner) -> Response:
    await webhooks.delete_endpoint(db, ctx, owner, await webhooks.get_endpoint(db, endpoint_id))
    return RedirectResponse("/studio/webhooks?deleted=1", status_code=303)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver")
async def redeliver(delivery_id: Id, ctx: Ctx, db: Db, _owner: Owner) -> Response:
    delivery = await webhooks.redeliver(db, await webhooks.get_delivery(db, delivery_id))
    wake(ctx)
    return RedirectResponse(f"/studio/webhooks/{delivery.endpoint_id}?redelivered=1", status_code=303)
