"""Audit entries for actions other domains announce on the bus: API tokens and webhook endpoints.

Accounts, privacy and refunds write their entries inside the action's own transaction (audit.record);
for these, the entry follows the committed event, in a transaction of its own.
"""

from __future__ import annotations

import logging

from knowcast.bus import Event, EventBus
from knowcast.db.engine import Database
from knowcast.privacy import audit

log = logging.getLogger(__name__)

AUDITED = {
    "api_token.created": ("api_token", "token_id"),
    "api_token.revoked": ("api_token", "token_id"),
    "webhook_endpoint.created": ("webhook_endpoint", "endpoint_id"),
    "webhook_endpoint.updated": ("webhook_endpoint", "endpoint_id"),
    "webhook_endpoint.deleted": ("webhook_endpoint", "endpoint_id"),
    "webhook_endpoint.secret_rolled": ("webhook_endpoint", "endpoint_id"),
}
ACTOR_KEYS = ("by", "actor_id", "user_id")


def actor_of(data: dict[str, object]) -> int | None:
    for key in ACTOR_KEYS:
        value = data.get(key)
        if isinstance(value, int):
            return value
    return None


def subscribe(bus: EventBus, db: Database) -> None:
    async def record(event: Event) -> None:
        target = AUDITED.get(event.name)
        if target is None:
            return
        kind, id_key = target
        detail = {k: v for k, v in event.data.items() if k not in ACTOR_KEYS and k != id_key}
        async with db.session() as session:
            audit.record(session, actor_of(event.data), event.name, kind, event.data.get(id_key), **detail)
            await session.commit()

    bus.subscribe("*", record)
