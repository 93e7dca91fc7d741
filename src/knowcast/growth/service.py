"""What other domains call: followers as an audience, reminder counts for the forecast and the console, the
run-of-show as planned and as carried out (the review report), and the personal-data export and erasure hooks
(privacy/service.py lists them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.growth import follows, notifications, reminders, show
from knowcast.growth.models import Follow, FollowKind, MailJob, MailStatus, Reminder
from knowcast.rooms.models import Room

audience_user_ids = follows.audience_user_ids  # (session, host_id, include_channel=True) → [user ids]
reminder_count = reminders.count  # (session, room_id) → bookings


async def run_of_show(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    """The room's script in order: each step's position, title, kind, state, planned time, actual start and
    delay (actual − planned, seconds; None until it ran). Empty for a room with no script."""
    room = await session.get(Room, room_id)
    if room is None:
        return []
    out = []
    for step in await show.steps_of(session, room_id):
        row = show.step_out(room, step)
        out.append(
            {
                "position": row.position,
                "title": row.title,
                "kind": row.kind.value,
                "state": row.state.value,
                "planned_at": row.planned_at,
                "started_at": row.started_at,
                "delay_seconds": row.delay_seconds,
            }
        )
    return out


async def follower_count(session: AsyncSession, host_id: int) -> int:
    return await follows.followers(session, FollowKind.HOST, host_id)


async def export_personal_data(session: AsyncSession, user: User) -> dict[str, list[dict[str, Any]]]:
    follows_rows = await follows.following_of(session, user.id)
    booked = await reminders.of_user(session, user.id)
    bell = await notifications.of_user(session, user.id)
    return {
        "follows": [
            {"kind": f.kind.value, "host_id": f.host_id or None, "room_id": f.room_id, "at": f.created_at.isoformat()}
            for f in follows_rows
        ],
        "reminders": [
            {
                "room_id": r.room_id,
                "booked_at": r.created_at.isoformat(),
                "notified_at": r.notified_at.isoformat() if r.notified_at else None,
            }
            for r in booked
        ],
        "notifications": [
            {"kind": n.kind, "room_id": n.room_id, "title": n.title, "at": n.created_at.isoformat()} for n in bell
        ],
    }


async def erase_personal_data(session: AsyncSession, user: User) -> None:
    """Follows, bookings and notifications go; queued mail to the person is dropped. Does not commit."""
    await session.execute(delete(Follow).where(Follow.user_id == user.id))
    await session.execute(delete(Reminder).where(Reminder.user_id == user.id))
    await notifications.erase(session, user.id)
    await session.execute(
        update(MailJob)
        .where(MailJob.user_id == user.id, MailJob.status == MailStatus.PENDING)
        .values(status=MailStatus.DROPPED, next_attempt_at=None, body="", user_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(MailJob)
        .where(MailJob.user_id == user.id)
        .values(user_id=None, body="")
        .execution_options(synchronize_session=False)
    )
