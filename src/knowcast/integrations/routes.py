"""JSON API: /api/v1/tokens (each signed-in host or owner, for their own; the owner sees all) and
/api/v1/webhooks (the owner, or a token with webhooks:manage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from knowcast.accounts.models import User
from knowcast.accounts.permissions import Permission
from knowcast.deps import MAX_ID, Ctx, Db, Id, require
from knowcast.integrations import tokens, webhooks
from knowcast.integrations.dispatcher import wake
from knowcast.integrations.events import WebhookEvent
from knowcast.integrations.models import ApiToken, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from knowcast.integrations.schemas import (
    DeliveryPage,
    DeliveryPublic,
    EndpointCreate,
    EndpointCreated,
    EndpointPublic,
    EndpointSecret,
    EndpointUpdate,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)
from knowcast.integrations.scopes import Scope, grantable

# managing tokens needs a signed-in person: a token cannot mint or revoke tokens (no scope named)
TokenManager = Annotated[User, Depends(require(Permission.MANAGE_ROOMS))]
WebhookManager = Annotated[User, Depends(require(Permission.MANAGE_SHOP, scope=Scope.WEBHOOKS_MANAGE))]

token_router = APIRouter(prefix="/api/v1/tokens", tags=["integrations"])
webhook_router = APIRouter(prefix="/api/v1/webhooks", tags=["integrations"])


def token_view(row: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        hint=row.hint,
        scopes=row.scopes,
        state=tokens.state_of(row),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@token_router.get("")
async def list_tokens(db: Db, user: TokenManager) -> list[TokenPublic]:
    return [token_view(row) for row in await tokens.list_tokens(db, user)]


@token_router.get("/scopes")
async def grantable_scopes(user: TokenManager) -> list[str]:
    """The scopes you may put on a token of your own."""
    return [scope.value for scope in grantable(user.role)]


@token_router.post("", status_code=201)
async def create_token(data: TokenCreate, ctx: Ctx, db: Db, user: TokenManager) -> TokenCreated:
    new = await tokens.create_token(db, ctx, user, data)
    return TokenCreated.model_validate({**token_view(new.row).model_dump(), "token": new.token})


@token_router.delete("/{token_id}")
async def revoke_token(token_id: Id, ctx: Ctx, db: Db, user: TokenManager) -> TokenPublic:
    return token_view(await tokens.revoke_token(db, ctx, user, token_id))


# ---- webhooks: fixed paths before /{endpoint_id} ----------------------------------------------------------


@webhook_router.get("/events")
async def subscribable_events(_owner: WebhookManager) -> list[str]:
    return [event.value for event in WebhookEvent]


@webhook_router.get("/deliveries")
async def list_deliveries(
    db: Db,
    _owner: WebhookManager,
    endpoint_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: DeliveryStatus | None = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=webhooks.MAX_PAGE)] = 50,
) -> DeliveryPage:
    where = webhooks.DeliveryFilter(endpoint_id=endpoint_id, status=status, before=before, limit=limit)
    rows = await webhooks.list_deliveries(db, where)
    return DeliveryPage(
        items=[delivery_view(row) for row in rows], next_before=rows[-1].id if len(rows) == limit else None
    )


def delivery_view(row: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(row)


@webhook_router.get("/deliveries/{delivery_id}")
async def get_delivery(delivery_id: Id, db: Db, _owner: WebhookManager) -> DeliveryPublic:
    return delivery_view(await webhooks.get_delivery(db, delivery_id))


@webhook_router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(delivery_id: Id, ctx: Ctx, db: Db, _owner: WebhookManager) -> DeliveryPublic:
    delivery = await webhooks.redeliver(db, await webhooks.get_delivery(db, delivery_id))
    wake(ctx)
    return delivery_view(delivery)


@webhook_router.get("")
async def list_endpoints(db: Db, _owner: WebhookManager) -> list[EndpointPublic]:
    return [endpoint_view(row) for row in await webhooks.list_endpoints(db)]


def endpoint_view(row: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic.model_validate(row)


@webhook_router.post("", status_code=201)
async def create_endpoint(data: EndpointCreate, ctx: Ctx, db: Db, owner: WebhookManager) -> EndpointCreated:
    endpoint = await webhooks.create_endpoint(db, ctx, owner, data)
    secret = webhooks.secret_of(endpoint)
    return EndpointCreated.model_validate({**endpoint_view(endpoint).model_dump(), "secret": secret})


@webhook_router.get("/{endpoint_id}")
async def get_endpoint(endpoint_id: Id, db: Db, _owner: WebhookManager) -> EndpointPublic:
    return endpoint_view(await webhooks.get_endpoint(db, endpoint_id))


@webhook_router.patch("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: Id, data: EndpointUpdate, ctx: Ctx, db: Db, owner: WebhookManager
) -> EndpointPublic:
    endpoint = await webhooks.get_endpoint(db, endpoint_id)
    updated = await webhooks.update_endpoint(db, ctx, owner, endpoint, data)
    wake(ctx)  # re-enabled: what waited may be due now
    return endpoint_view(updated)


@webhook_router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: Id, ctx: Ctx, db: Db, owner: WebhookManager) -> Response:
    await webhooks.delete_endpoint(db, ctx, owner, await webhooks.get_endpoint(db, endpoint_id))
    return Response(status_code=204)


@webhook_router.post("/{endpoint_id}/secret")
async def roll_secret(endpoint_id: Id, ctx: Ctx, db: Db, owner: WebhookManager) -> EndpointSecret:
    endpoint = await webhooks.get_endpoint(db, endpoint_id)
    return EndpointSecret(id=endpoint.id, secret=await webhooks.roll_secret(db, ctx, owner, endpoint))


@webhook_router.post("/{endpoint_id}/ping", status_code=202)
async def ping(endpoint_id: Id, ctx: Ctx, db: Db, _owner: WebhookManager) -> DeliveryPublic:
    delivery = await webhooks.ping(db, ctx, await webhooks.get_endpoint(db, endpoint_id))
    wake(ctx)
    return delivery_view(delivery)
