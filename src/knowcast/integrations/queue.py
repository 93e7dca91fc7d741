"""The durable webhook delivery queue: one row per event per endpoint, claimed, attempted, retried.

A row is claimed with a conditional UPDATE that sets ``claimed_until`` (a lease), so several processes can
run dispatchers over one database and each attempt is made by exactly one of them. A row that succeeded
is never claimed again; only an owner's redeliver puts it back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.bus import Event
from knowcast.db import lease as lease_queue
from knowcast.db.types import utcnow
from knowcast.integrations.events import event_id, payload
from knowcast.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from knowcast.settings import Settings

SNIPPET = 500
ERROR = 300


@dataclass(frozen=True)
class Job:
    """A claimed delivery: everything one attempt needs, read in the claiming transaction."""

    delivery_id: int
    endpoint_id: int
    url: str
    secret: str | None  # None: an endpoint from before migration 0401 that is not adopted yet
    event_id: str
    event_name: str
    body: str
    attempts: int  # made before this one
    max_attempts: int


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None
    snippet: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_delay(attempts: int, settings: Settings, rand: random.Random) -> float:
    """Seconds before the next attempt after ``attempts`` failures (knowcast.db.lease)."""
    base, cap = settings.webhook_backoff_seconds, settings.webhook_backoff_max_seconds
    return lease_queue.retry_delay(attempts, base, cap, rand)


async def enqueue(session: AsyncSession, event: Event, settings: Settings) -> int:
    """Write one pending delivery for each active endpoint subscribed to ``event``; the number written.
    An event already queued for an endpoint (seen twice) is not queued again."""
    endpoints = [e for e in await session.scalars(_active_endpoints()) if event.name in e.events]
    if not endpoints:
        return 0
    ident = event_id(event)
    done = set(
        await session.scalars(
            select(WebhookDelivery.endpoint_id).where(
                WebhookDelivery.event_id == ident, WebhookDelivery.endpoint_id.in_([e.id for e in endpoints])
            )
        )
    )
    fresh = [endpoint for endpoint in endpoints if endpoint.id not in done]
    body = payload(event, ident)
    for endpoint in fresh:
        session.add(new_delivery(endpoint.id, ident, event.name, body, settings.webhook_max_attempts))
    try:
        await session.commit()
    except IntegrityError:  # another subscriber queued the same event between our read and our write
        await session.rollback()
        return 0
    return len(fresh)


def new_delivery(endpoint_id: int, ident: str, name: str, body: str, max_attempts: int) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint_id=endpoint_id,
        event_id=ident,
        event_name=name,
        body=body,
        status=DeliveryStatus.PENDING,
        attempts=0,
        max_attempts=max_attempts,
        next_attempt_at=utcnow(),
    )


def _active_endpoints() -> Select[tuple[WebhookEndpoint]]:
    return select(WebhookEndpoint).where(WebhookEndpoint.is_active.is_(True))


def _claimable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        WebhookDelivery.status == DeliveryStatus.PENDING,
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
    )


async def claim_due(session: AsyncSession, limit: int, lease: timedelta) -> list[Job]:
    """Claim up to ``limit`` deliveries that are due, for endpoints that are active."""
    now = utcnow()
    due = await session.scalars(
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(*_claimable(now), WebhookDelivery.next_attempt_at <= now, WebhookEndpoint.is_active.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return await _jobs(session, await lease_queue.claim(session, WebhookDelivery, due, _claimable(now), now, lease))


async def _jobs(session: AsyncSession, ids: list[int]) -> list[Job]:
    if not ids:
        return []
    rows = await session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
    )
    return [
        Job(d.id, e.id, e.url, e.secret, d.event_id, d.event_name, d.body, d.attempts, d.max_attempts)
        for d, e in rows.tuples()
    ]


async def record(session: AsyncSession, job: Job, outcome: Outcome, retry_in: float) -> DeliveryStatus:
    """Store an attempt's result and release the claim; the delivery's new status."""
    now = utcnow()
    attempts = job.attempts + 1
    values: dict[str, object] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:ERROR] if outcome.error else None,
        "response_snippet": outcome.snippet[:SNIPPET] if outcome.snippet is not None else None,
        "claimed_until": None,
    }
    if outcome.ok:
        status = DeliveryStatus.SUCCEEDED
        values.update(delivered_at=now, next_attempt_at=None)
    elif attempts >= job.max_attempts:
        status = DeliveryStatus.FAILED
        values.update(next_attempt_at=None)
    else:
        status = DeliveryStatus.PENDING
        values.update(next_attempt_at=now + timedelta(seconds=retry_in))
    values["status"] = status
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == job.delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return status


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending delivery of an active endpoint is due (None: nothing is waiting)."""
    return await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at))
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookEndpoint.is_active.is_(True))
    )


async def purge(session: AsyncSession, older_than: datetime) -> int:
    """Delete finished deliveries (succeeded or failed) created before ``older_than``; the number deleted.
    Pending ones stay, however old: they are still owed to a receiver."""
    result = await session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.status != DeliveryStatus.PENDING, WebhookDelivery.created_at < older_than)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
