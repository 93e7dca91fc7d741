"""The only code that changes webhook endpoints and what the owner does with deliveries (log, redeliver, ping)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound
from knowcast.integrations import signing
from knowcast.integrations.errors import IntegrationsCode
from knowcast.integrations.events import PING, event_id, payload
from knowcast.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from knowcast.integrations.queue import new_delivery
from knowcast.integrations.schemas import EndpointCreate, EndpointUpdate
from knowcast.integrations.urls import check_url
from knowcast.settings import Settings

MAX_ENDPOINTS = 20
MAX_PAGE = 100


@dataclass(frozen=True)
class DeliveryFilter:
    endpoint_id: int | None = None
    status: DeliveryStatus | None = None
    before: int | None = None  # deliveries with a smaller id (older), for paging
    limit: int = 50


def secret_of(endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret, decrypted (shown to the owner when it is made or rolled)."""
    assert endpoint.secret is not None, "only endpoints from before migration 0401 lack one, until adopted"
    return endpoint.secret


async def adopt_legacy_secrets(session: AsyncSession, settings: Settings) -> int:
    """Endpoints made before migration 0401 keep the secret their receivers know, now stored encrypted and
    no longer tied to SECRET_KEY; returns how many were adopted. Safe to run in every process at once."""
    legacy = list(
        await session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.secret.is_(None), WebhookEndpoint.secret_salt.is_not(None))
        )
    )
    for endpoint in legacy:
        assert endpoint.secret_salt is not None
        endpoint.secret, endpoint.secret_salt = signing.legacy_secret(settings.secret_key, endpoint.secret_salt), None
    await session.commit()
    return len(legacy)


async def _publish(ctx: AppContext, name: str, endpoint: WebhookEndpoint, actor: User) -> None:
    await ctx.bus.publish(Event(f"webhook_endpoint.{name}", {"endpoint_id": endpoint.id, "by": actor.id}))


async def create_endpoint(session: AsyncSession, ctx: AppContext, actor: User, data: EndpointCreate) -> WebhookEndpoint:
    url = check_url(data.url, allow_private=ctx.settings.webhook_private_allowed)
    count = int(await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0)
    if count >= MAX_ENDPOINTS:
        raise Conflict(f"at most {MAX_ENDPOINTS} endpoints; delete one first", code=IntegrationsCode.WEBHOOK_TOO_MANY)
    endpoint = WebhookEndpoint(
        url=url,
        description=data.description.strip(),
        events=[event.value for event in data.events],
        secret=signing.new_secret(),
        is_active=True,
        created_by=actor.id,
    )
    session.add(endpoint)
    await session.commit()
    await _publish(ctx, "created", endpoint, actor)
    return endpoint


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    return list(await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("no such webhook endpoint", code=IntegrationsCode.WEBHOOK_NOT_FOUND)
    return endpoint


async def update_endpoint(
    session: AsyncSession, ctx: AppContext, actor: User, endpoint: WebhookEndpoint, data: EndpointUpdate
) -> WebhookEndpoint:
    if data.url is not None:
        endpoint.url = check_url(data.url, allow_private=ctx.settings.webhook_private_allowed)
    if data.description is not None:
        endpoint.description = data.description.strip()
    if data.events is not None:
        endpoint.events = [event.value for event in data.events]
    if data.is_active is not None:
        endpoint.is_active = data.is_active
    await session.commit()
    await _publish(ctx, "updated", endpoint, actor)
    return endpoint


async def delete_endpoint(session: AsyncSession, ctx: AppContext, actor: User, endpoint: WebhookEndpoint) -> None:
    await session.delete(endpoint)
    await session.commit()
    await _publish(ctx, "deleted", endpoint, actor)


async def roll_secret(session: AsyncSession, ctx: AppContext, actor: User, endpoint: WebhookEndpoint) -> str:
    """A new random signing secret, returned once; attempts from now on are signed with it."""
    endpoint.secret, endpoint.secret_salt = signing.new_secret(), None
    await session.commit()
    await _publish(ctx, "secret_rolled", endpoint, actor)
    return secret_of(endpoint)


async def ping(session: AsyncSession, ctx: AppContext, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a ``webhook.ping`` for one endpoint, to test it; tried once."""
    event = Event(PING, {"endpoint_id": endpoint.id})
    ident = event_id(event)
    delivery = new_delivery(endpoint.id, ident, PING, payload(event, ident), max_attempts=1)
    session.add(delivery)
    await session.commit()
    return delivery


async def list_deliveries(session: AsyncSession, where: DeliveryFilter) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(min(max(where.limit, 1), MAX_PAGE))
    if where.endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == where.endpoint_id)
    if where.status is not None:
        query = query.where(WebhookDelivery.status == where.status)
    if where.before is not None:
        query = query.where(WebhookDelivery.id < where.before)
    return list(await session.scalars(query))


async def get_delivery(session: AsyncSession, delivery_id: int) -> WebhookDelivery:
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("no such delivery", code=IntegrationsCode.WEBHOOK_DELIVERY_NOT_FOUND)
    return delivery


async def redeliver(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send again as soon as possible: a finished delivery gets one more attempt, a pending one is moved up."""
    values: dict[str, object] = {"next_attempt_at": utcnow()}
    if delivery.status is not DeliveryStatus.PENDING:
        values.update(status=DeliveryStatus.PENDING, max_attempts=delivery.attempts + 1, claimed_until=None)
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == delivery.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    await session.refresh(delivery)
    return delivery
