"""Live reminders (预约): a viewer books an upcoming room; when it goes live each booking becomes an in-site
notification and a queued mail, exactly once.

Booking twice is booking once (the unique (room, user) row). A room that ended, or is already on air, takes
no bookings. The fan-out on going live is done by the mail worker (``notify_live``), never inside the request
that made the room live: ``room.live`` only wakes the worker, and the worker also finds on-air rooms with
bookings not yet notified, so a process that died in between loses nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict
from knowcast.growth import mailtext, notifications, outbox
from knowcast.growth.errors import GrowthCode
from knowcast.growth.models import Reminder
from knowcast.growth.schemas import ReminderCount, ReminderOut
from knowcast.rooms.models import Room
from knowcast.rooms.states import ON_AIR, RoomState

FAN_OUT_BATCH = 500


async def count(session: AsyncSession, room_id: int) -> int:
    query = select(func.count()).select_from(Reminder).where(Reminder.room_id == room_id)
    return int(await session.scalar(query) or 0)


async def counts(session: AsyncSession, room_id: int) -> ReminderCount:
    notified = await session.scalar(
        select(func.count()).select_from(Reminder).where(Reminder.room_id == room_id, Reminder.notified_at.is_not(None))
    )
    return ReminderCount(room_id=room_id, reminders=await count(session, room_id), notified=int(notified or 0))


async def is_booked(session: AsyncSession, user: User | None, room_id: int) -> bool:
    if user is None:
        return False
    query = select(Reminder.id).where(Reminder.room_id == room_id, Reminder.user_id == user.id)
    return await session.scalar(query) is not None


def ensure_bookable(room: Room) -> None:
    if room.state is RoomState.ENDED:
        raise Conflict("this room has ended", code=GrowthCode.REMINDER_ROOM_ENDED)
    if room.state in ON_AIR:
        raise Conflict("this room is live now: watch it", code=GrowthCode.REMINDER_ROOM_LIVE)


async def book(session: AsyncSession, ctx: AppContext, user: User, room: Room) -> ReminderOut:
    ensure_bookable(room)
    created = False
    if not await is_booked(session, user, room.id):
        session.add(Reminder(room_id=room.id, user_id=user.id))
        try:
            await session.commit()
            created = True
        except IntegrityError:  # a double tap racing itself: booked either way
            await session.rollback()
    total = await count(session, room.id)
    if created:
        data = {"room_id": room.id, "host_id": room.host_id, "user_id": user.id, "reminders": total}
        await ctx.bus.publish(Event("reminder.booked", data))
    return ReminderOut(room_id=room.id, booked=True, created=created, reminders=total)


async def cancel(session: AsyncSession, ctx: AppContext, user: User, room: Room) -> ReminderOut:
    row = await session.scalar(select(Reminder).where(Reminder.room_id == room.id, Reminder.user_id == user.id))
    if row is not None:
        await session.delete(row)
        await session.commit()
    total = await count(session, room.id)
    if row is not None:
        data = {"room_id": room.id, "host_id": room.host_id, "user_id": user.id, "reminders": total}
        await ctx.bus.publish(Event("reminder.cancelled", data))
    return ReminderOut(room_id=room.id, booked=False, reminders=total)


async def rooms_to_notify(session: AsyncSession) -> list[int]:
    """On-air rooms that still have bookings nobody has been told about."""
    query = (
        select(Reminder.room_id)
        .join(Room, Room.id == Reminder.room_id)
        .where(Room.state.in_(ON_AIR), Reminder.notified_at.is_(None))
        .distinct()
    )
    return list(await session.scalars(query))


async def notify_live(session: AsyncSession, ctx: AppContext, room_id: int) -> int:
    """Turn up to FAN_OUT_BATCH un-notified bookings of a live room into notifications and mail; the number
    handled. Each booking is claimed by a conditional UPDATE, so two workers never both notify one."""
    room = await session.get(Room, room_id)
    if room is None or room.state not in ON_AIR:
        return 0
    due = list(
        await session.scalars(
            select(Reminder.id)
            .where(Reminder.room_id == room_id, Reminder.notified_at.is_(None))
            .order_by(Reminder.id)
            .limit(FAN_OUT_BATCH)
        )
    )
    now, handled = utcnow(), 0
    url = mailtext.room_link(ctx.settings.public_url, room_id)
    for reminder_id in due:
        claimed = await session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id, Reminder.notified_at.is_(None))
            .values(notified_at=now)
            .returning(Reminder.user_id)
        )
        user_id = claimed.scalar_one_or_none()
        if user_id is None:
            continue
        user = await session.get(User, user_id)
        if user is None or user.deleted_at is not None:
            continue
        await notifications.add(session, user_id, "room.live", room_id, room.title, f"/rooms/{room_id}")
        subject, body = mailtext.live_mail(user.locale or ctx.settings.default_locale, room.title, url, ctx.settings)
        await outbox.enqueue(session, user_id, f"live:{room_id}:{user_id}", subject, body)
        handled += 1
    await session.commit()
    if handled:
        await ctx.bus.publish(Event("reminder.notified", {"room_id": room_id, "count": handled}))
    return handled


async def of_user(session: AsyncSession, user_id: int) -> list[Reminder]:
    return list(await session.scalars(select(Reminder).where(Reminder.user_id == user_id).order_by(Reminder.id)))
