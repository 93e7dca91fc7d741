"""The audit log. Services add an entry inside the transaction of the action, so neither exists without the other."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.privacy.models import AuditEntry


def record(
    session: AsyncSession,
    actor_id: int | None,
    action: str,
    target_type: str | None = None,
    target_id: object = None,
    **detail: Any,
) -> None:
    """Add an entry to the caller's transaction (it commits with the action)."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=detail,
        )
    )


async def recent(session: AsyncSession, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(await session.scalars(query))
