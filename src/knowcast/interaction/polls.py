"""Polls: the host opens one, each signed-in viewer votes once, results are live, the host closes it.

One vote per viewer is the database's unique (poll, user) constraint, so two racing votes cannot both count.
Results go out as ``poll.results`` events marked ``replaces``, so a tick carries only the newest count. Each
vote that counted is also published as ``poll.voted`` (``room_id``, ``poll_id``, ``user_id``; not broadcast):
analytics counts it in the interaction rate.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound, ValidationFailed
from knowcast.interaction import moderation
from knowcast.interaction.errors import InteractionCode
from knowcast.interaction.models import Poll, PollState, PollVote
from knowcast.interaction.schemas import PollIn, PollOut
from knowcast.rooms.models import Room
from knowcast.rooms.service import ensure_can_watch


async def view(session: AsyncSession, poll: Poll) -> PollOut:
    counts = [0] * len(poll.options)
    rows = await session.execute(
        select(PollVote.option, func.count()).where(PollVote.poll_id == poll.id).group_by(PollVote.option)
    )
    for option, count in rows.tuples():
        if 0 <= option < len(counts):
            counts[option] = count
    return PollOut(
        id=poll.id, question=poll.question, options=list(poll.options), counts=counts, total=sum(counts),
        state=poll.state.value,
    )  # fmt: skip


async def current(session: AsyncSession, room_id: int) -> PollOut | None:
    poll = await session.scalar(
        select(Poll).where(Poll.room_id == room_id, Poll.state == PollState.OPEN).order_by(Poll.id.desc()).limit(1)
    )
    return await view(session, poll) if poll else None


async def _poll(session: AsyncSession, room: Room, poll_id: int) -> Poll:
    poll = await session.get(Poll, poll_id)
    if poll is None or poll.room_id != room.id:
        raise NotFound("no such poll", code=InteractionCode.POLL_NOT_FOUND)
    return poll


async def _publish(ctx: AppContext, name: str, room: Room, out: PollOut, replaces: bool = False) -> None:
    data = {"room_id": room.id, "poll": out.model_dump()}
    await ctx.bus.publish(Event(name, data, to_room=True, replaces=f"poll:{out.id}" if replaces else None))


async def open_poll(session: AsyncSession, ctx: AppContext, user: User, room: Room, data: PollIn) -> PollOut:
    await moderation.ensure_can_moderate(session, user, room)
    if await current(session, room.id) is not None:
        raise Conflict("close the open poll first", code=InteractionCode.POLL_ALREADY_OPEN)
    poll = Poll(room_id=room.id, question=data.question, options=data.options)
    session.add(poll)
    await session.commit()
    out = await view(session, poll)
    await _publish(ctx, "poll.opened", room, out)
    return out


async def vote(session: AsyncSession, ctx: AppContext, user: User, room: Room, poll_id: int, option: int) -> PollOut:
    await ensure_can_watch(session, user, room)
    poll = await _poll(session, room, poll_id)
    if poll.state is not PollState.OPEN:
        raise Conflict("this poll is closed", code=InteractionCode.POLL_CLOSED)
    if option >= len(poll.options):
        raise ValidationFailed(
            "no such option", code=InteractionCode.POLL_BAD_OPTION, fields={"option": "out of range"}
        )
    session.add(PollVote(poll_id=poll.id, user_id=user.id, option=option))
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("you already voted in this poll", code=InteractionCode.POLL_ALREADY_VOTED) from exc
    await ctx.bus.publish(Event("poll.voted", {"room_id": room.id, "poll_id": poll.id, "user_id": user.id}))
    out = await view(session, poll)
    await _publish(ctx, "poll.results", room, out, replaces=True)
    return out


async def close(session: AsyncSession, ctx: AppContext, user: User, room: Room, poll_id: int) -> PollOut:
    await moderation.ensure_can_moderate(session, user, room)
    poll = await _poll(session, room, poll_id)
    if poll.state is PollState.OPEN:
        poll.state, poll.closed_at = PollState.CLOSED, utcnow()
        await session.commit()
    out = await view(session, poll)
    await _publish(ctx, "poll.closed", room, out)
    return out
