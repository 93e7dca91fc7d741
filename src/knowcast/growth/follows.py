"""Follows: a viewer follows the channel (the whole shop) or one host. Following twice is following once.

A follow of a host made while one of the host's rooms is on air carries that room's id in its
``host.followed`` event: that is what analytics counts as "new followers" of the stream (docs/metrics.md).
Followers are an audience for coupons and draws (``audience_user_ids``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import Role, User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.errors import Conflict, NotFound
from knowcast.growth.errors import GrowthCode
from knowcast.growth.models import Follow, FollowKind
from knowcast.growth.schemas import FollowOut
from knowcast.rooms.models import Room
from knowcast.rooms.states import ON_AIR

HOSTS = (Role.HOST, Role.OWNER)


async def ensure_host(session: AsyncSession, host_id: int) -> User:
    host = await session.get(User, host_id)
    if host is None or host.role not in HOSTS or host.deleted_at is not None:
        raise NotFound("no such host", code=GrowthCode.FOLLOW_NO_SUCH_HOST)
    return host


async def followers(session: AsyncSession, kind: FollowKind, host_id: int) -> int:
    query = select(func.count()).select_from(Follow).where(Follow.kind == kind, Follow.host_id == host_id)
    return int(await session.scalar(query) or 0)


async def is_following(session: AsyncSession, user: User | None, kind: FollowKind, host_id: int) -> bool:
    if user is None:
        return False
    query = select(Follow.id).where(Follow.user_id == user.id, Follow.kind == kind, Follow.host_id == host_id)
    return await session.scalar(query) is not None


async def status(session: AsyncSession, user: User | None, kind: FollowKind, host_id: int) -> FollowOut:
    return FollowOut(
        kind=kind,
        host_id=host_id,
        following=await is_following(session, user, kind, host_id),
        followers=await followers(session, kind, host_id),
    )


async def on_air_room(session: AsyncSession, host_id: int) -> int | None:
    """The host's room on air now (the newest if several), for counting follows made during a stream."""
    query = select(Room.id).where(Room.host_id == host_id, Room.state.in_(ON_AIR)).order_by(Room.started_at.desc())
    room_id: int | None = await session.scalar(query.limit(1))
    return room_id


async def follow(session: AsyncSession, ctx: AppContext, user: User, kind: FollowKind, host_id: int = 0) -> FollowOut:
    if kind is FollowKind.HOST:
        await ensure_host(session, host_id)
        if host_id == user.id:
            raise Conflict("you cannot follow yourself", code=GrowthCode.FOLLOW_SELF)
        room_id = await on_air_room(session, host_id)
    else:
        host_id, room_id = 0, None
    if await is_following(session, user, kind, host_id):
        return await status(session, user, kind, host_id)
    session.add(Follow(user_id=user.id, kind=kind, host_id=host_id, room_id=room_id))
    try:
        await session.commit()
    except IntegrityError:  # the same follow racing itself: it exists either way
        await session.rollback()
        return await status(session, user, kind, host_id)
    out = await status(session, user, kind, host_id)
    data: dict[str, Any] = {"user_id": user.id, "followers": out.followers}
    if kind is FollowKind.HOST:
        await ctx.bus.publish(Event("host.followed", {**data, "host_id": host_id, "room_id": room_id}))
    else:
        await ctx.bus.publish(Event("channel.followed", data))
    return out


async def unfollow(session: AsyncSession, ctx: AppContext, user: User, kind: FollowKind, host_id: int = 0) -> FollowOut:
    host_id = host_id if kind is FollowKind.HOST else 0
    result = await session.execute(
        delete(Follow).where(Follow.user_id == user.id, Follow.kind == kind, Follow.host_id == host_id)
    )
    await session.commit()
    out = await status(session, user, kind, host_id)
    if result.rowcount:  # type: ignore[attr-defined]
        name = "host.unfollowed" if kind is FollowKind.HOST else "channel.unfollowed"
        await ctx.bus.publish(Event(name, {"user_id": user.id, "host_id": host_id, "followers": out.followers}))
    return out


async def audience_user_ids(session: AsyncSession, host_id: int, include_channel: bool = True) -> list[int]:
    """Accounts following the host (and, by default, the channel), for a coupon or draw audience.

    Only live accounts: a deleted (anonymized) account is no longer anyone's audience.
    """
    condition = (Follow.kind == FollowKind.HOST) & (Follow.host_id == host_id)
    if include_channel:
        condition = condition | (Follow.kind == FollowKind.CHANNEL)
    query = (
        select(Follow.user_id)
        .join(User, User.id == Follow.user_id)
        .where(condition, User.deleted_at.is_(None), User.is_active.is_(True))
        .distinct()
        .order_by(Follow.user_id)
    )
    return list(await session.scalars(query))


async def following_of(session: AsyncSession, user_id: int) -> list[Follow]:
    return list(await session.scalars(select(Follow).where(Follow.user_id == user_id).order_by(Follow.id)))
