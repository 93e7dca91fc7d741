"""In-site notifications (the bell): a list per person, newest first, and an unread count for the badge."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.db.types import utcnow
from knowcast.growth.models import Notification
from knowcast.growth.schemas import NotificationList, NotificationOut

PAGE = 50


async def add(session: AsyncSession, user_id: int, kind: str, room_id: int | None, title: str, url: str) -> bool:
    """Add one notification unless the person already has this one (kind and room). Does not commit."""
    exists = await session.scalar(
        select(Notification.id).where(
            Notification.user_id == user_id, Notification.kind == kind, Notification.room_id == room_id
        )
    )
    if exists is not None:
        return False
    session.add(Notification(user_id=user_id, kind=kind, room_id=room_id, title=title[:200], url=url))
    await session.flush()
    return True


async def unread(session: AsyncSession, user_id: int) -> int:
    query = select(func.count()).select_from(Notification)
    query = query.where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return int(await session.scalar(query) or 0)


async def listing(session: AsyncSession, user_id: int, limit: int = PAGE) -> NotificationList:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    items = [NotificationOut.model_validate(row) for row in rows]
    return NotificationList(unread=await unread(session, user_id), items=items)


async def mark_read(session: AsyncSession, user_id: int, notification_id: int | None = None) -> int:
    """Mark one notification (or all of them) read; the unread count afterwards."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    await session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False))
    await session.commit()
    return await unread(session, user_id)


async def of_user(session: AsyncSession, user_id: int) -> list[Notification]:
    return list(await session.scalars(select(Notification).where(Notification.user_id == user_id)))


async def erase(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(Notification).where(Notification.user_id == user_id))
