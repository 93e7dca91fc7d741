"""Growth JSON API: follows, reminders and their calendar file, notifications. Run-of-show, FAQ, embed and
poster routes live beside it (show_routes, faq_routes, share_routes) and are included here."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from knowcast.accounts.models import Role, User
from knowcast.deps import Ctx, CurrentUser, Db, Host, Id, MaybeUser, Public
from knowcast.errors import NotFound
from knowcast.growth import faq_routes, follows, ics, notifications, reminders, share_routes, show_routes
from knowcast.growth.errors import GrowthCode
from knowcast.growth.models import FollowKind
from knowcast.growth.schemas import FollowOut, NotificationList, ReminderCount, ReminderOut, UnreadCount
from knowcast.rooms import service as rooms

router = APIRouter(tags=["growth"])
api = APIRouter(prefix="/api/v1", tags=["growth"])


class Audience(BaseModel):
    host_id: int
    user_ids: list[int]


# ---- follows ----------------------------------------------------------------------------------------------


@api.get("/channel/follow", dependencies=[Public])
async def channel_follow(db: Db, user: MaybeUser) -> FollowOut:
    return await follows.status(db, user, FollowKind.CHANNEL, 0)


@api.put("/channel/follow")
async def follow_channel(ctx: Ctx, db: Db, user: CurrentUser) -> FollowOut:
    return await follows.follow(db, ctx, user, FollowKind.CHANNEL)


@api.delete("/channel/follow")
async def unfollow_channel(ctx: Ctx, db: Db, user: CurrentUser) -> FollowOut:
    return await follows.unfollow(db, ctx, user, FollowKind.CHANNEL)


@api.get("/hosts/{host_id}/follow", dependencies=[Public])
async def host_follow(host_id: Id, db: Db, user: MaybeUser) -> FollowOut:
    await follows.ensure_host(db, host_id)
    return await follows.status(db, user, FollowKind.HOST, host_id)


@api.put("/hosts/{host_id}/follow")
async def follow_host(host_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> FollowOut:
    return await follows.follow(db, ctx, user, FollowKind.HOST, host_id)


@api.delete("/hosts/{host_id}/follow")
async def unfollow_host(host_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> FollowOut:
    await follows.ensure_host(db, host_id)
    return await follows.unfollow(db, ctx, user, FollowKind.HOST, host_id)


@api.get("/hosts/{host_id}/followers/audience")
async def follower_audience(host_id: Id, db: Db, user: Host) -> Audience:
    """The followers' account ids, for a coupon or draw audience (the host's own, or any for the owner)."""
    _ensure_self_or_owner(user, host_id)
    return Audience(host_id=host_id, user_ids=await follows.audience_user_ids(db, host_id))


def _ensure_self_or_owner(user: User, host_id: int) -> None:
    if user.id != host_id and user.role is not Role.OWNER:
        raise NotFound("no such host", code=GrowthCode.FOLLOW_NO_SUCH_HOST)


# ---- reminders --------------------------------------------------------------------------------------------


@api.get("/rooms/{room_id}/reminder", dependencies=[Public])
async def reminder_status(room_id: Id, db: Db, user: MaybeUser) -> ReminderOut:
    room = await rooms.get_room(db, room_id)
    booked = await reminders.is_booked(db, user, room.id)
    return ReminderOut(room_id=room.id, booked=booked, reminders=await reminders.count(db, room.id))


@api.put("/rooms/{room_id}/reminder")
async def book_reminder(room_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> ReminderOut:
    """Book a reminder (预约). Idempotent: booking again answers the same booking with ``created: false``."""
    room = await rooms.get_room(db, room_id)
    return await reminders.book(db, ctx, user, room)


@api.delete("/rooms/{room_id}/reminder")
async def cancel_reminder(room_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> ReminderOut:
    room = await rooms.get_room(db, room_id)
    return await reminders.cancel(db, ctx, user, room)


@api.get("/rooms/{room_id}/reminders")
async def reminder_count(room_id: Id, db: Db, user: Host) -> ReminderCount:
    """How many viewers booked (shown on the console before going live; it feeds the forecast)."""
    room = await rooms.get_managed_room(db, user, room_id)
    return await reminders.counts(db, room.id)


@router.get("/rooms/{room_id}/calendar.ics", dependencies=[Public])
async def calendar(room_id: Id, ctx: Ctx, db: Db) -> Response:
    room = await rooms.get_room(db, room_id)
    host = await db.get(User, room.host_id)
    body = ics.room_calendar(room, ctx.settings.public_url, ctx.settings.site_name, host.display_name if host else "")
    headers = {"content-disposition": f'attachment; filename="room-{room.id}.ics"'}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


# ---- notifications ----------------------------------------------------------------------------------------


@api.get("/notifications")
async def my_notifications(db: Db, user: CurrentUser) -> NotificationList:
    return await notifications.listing(db, user.id)


@api.get("/notifications/unread", dependencies=[Public])
async def unread(db: Db, user: MaybeUser) -> UnreadCount:
    """The badge: 0 for a visitor who is not signed in."""
    return UnreadCount(unread=await notifications.unread(db, user.id) if user else 0)


@api.post("/notifications/read")
async def read_all(db: Db, user: CurrentUser) -> UnreadCount:
    return UnreadCount(unread=await notifications.mark_read(db, user.id))


@api.post("/notifications/{notification_id}/read")
async def read_one(notification_id: Id, db: Db, user: CurrentUser) -> UnreadCount:
    return UnreadCount(unread=await notifications.mark_read(db, user.id, notification_id))


for sub in (show_routes.router, faq_routes.router, share_routes.router):
    api.include_router(sub)
router.include_router(api)
