"""Interaction's part of the personal-data export and of account deletion (privacy/service.py lists them).

The database holds the person's questions, votes, room roles and the sanctions about them; their chat lines
are not stored here but in the rooms' recent lines (the hub) and the replays' timelines (media). After the
deletion commits, ``forget_in_live_rooms`` removes the person's recent lines and questions from every room
that may show them, and stops a socket they still hold open from chatting there; a site ban (user.disabled)
does the latter too.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.interaction.models import (
    Poll,
    PollVote,
    Question,
    QuestionVote,
    RoomGuest,
    RoomModerator,
    RoomSanction,
)
from knowcast.privacy.records import Tables, row, rows, update_where
from knowcast.realtime.hub import Hub
from knowcast.rooms.models import Room
from knowcast.rooms.states import ON_AIR


async def export_personal_data(session: AsyncSession, user: User) -> Tables:
    return {**await _questions_and_votes(session, user.id), **await _standing(session, user.id)}


async def _questions_and_votes(session: AsyncSession, user_id: int) -> Tables:
    asked = await session.scalars(select(Question).where(Question.user_id == user_id).order_by(Question.id))
    upvoted = await session.execute(
        select(QuestionVote.question_id, Question.room_id)
        .join(Question, Question.id == QuestionVote.question_id)
        .where(QuestionVote.user_id == user_id)
        .order_by(QuestionVote.id)
    )
    voted = await session.execute(
        select(PollVote, Poll).join(Poll, Poll.id == PollVote.poll_id).where(PollVote.user_id == user_id)
    )
    return {
        "questions": rows(asked, "id", "room_id", "text", "votes", "answered", "answer", "created_at"),
        "question_votes": [{"question_id": q, "room_id": r} for q, r in upvoted.tuples()],
        "poll_votes": [
            row(v, "poll_id", "option", room_id=p.room_id, question=p.question, answer=_option(p, v.option))
            for v, p in voted.tuples()
        ],
    }


def _option(poll: Poll, index: int) -> str | None:
    return str(poll.options[index]) if 0 <= index < len(poll.options) else None


async def _standing(session: AsyncSession, user_id: int) -> Tables:
    sanctions = await session.scalars(
        select(RoomSanction).where(RoomSanction.user_id == user_id).order_by(RoomSanction.id)
    )
    moderating = await session.scalars(select(RoomModerator).where(RoomModerator.user_id == user_id))
    guesting = await session.scalars(select(RoomGuest).where(RoomGuest.user_id == user_id))
    return {
        "room_sanctions": rows(sanctions, "room_id", "kind", "until", "reason", "created_at", "lifted_at"),
        "room_roles": [row(m, "room_id", "created_at", role="moderator") for m in moderating]
        + [row(g, "room_id", "title", "created_at", role="guest") for g in guesting],
    }


async def erase_personal_data(session: AsyncSession, user: User) -> None:
    """Questions, votes, room roles and sanctions about the person go; answers they gave stay with the
    question, unsigned. Does not commit: it runs inside the deletion's transaction."""
    mine = select(Question.id).where(Question.user_id == user.id)
    upvoted = select(QuestionVote.question_id).where(QuestionVote.user_id == user.id)
    await update_where(session, Question, Question.id.in_(upvoted), votes=Question.votes - 1)
    await session.execute(
        delete(QuestionVote).where((QuestionVote.user_id == user.id) | QuestionVote.question_id.in_(mine))
    )
    await session.execute(delete(Question).where(Question.user_id == user.id))
    await update_where(session, Question, Question.answered_by == user.id, answered_by=None)
    await update_where(session, RoomSanction, RoomSanction.created_by == user.id, created_by=None)
    for model in (PollVote, RoomSanction, RoomModerator, RoomGuest):
        await session.execute(delete(model).where(model.user_id == user.id))


async def _rooms_that_may_show(ctx: AppContext) -> list[int]:
    """Rooms on air (in any process) and rooms this process's hub holds recent lines for."""
    async with ctx.db.session() as session:
        on_air = set(await session.scalars(select(Room.id).where(Room.state.in_(ON_AIR))))
    return sorted(on_air | set(ctx.runtime(Hub).rooms))


async def silence_in_live_rooms(ctx: AppContext, user_id: int) -> None:
    """A disabled (site-banned) or deleted account: a socket it still holds open can no longer chat. Every
    process folds the room event into its chat rules, as for a ban by the room's moderators."""
    for room_id in await _rooms_that_may_show(ctx):
        data = {"room_id": room_id, "user_id": user_id, "name": None, "until": None}
        await ctx.bus.publish(Event("chat.user_banned", data, to_room=True))


async def forget_in_live_rooms(ctx: AppContext, user_id: int) -> None:
    """After the deletion commits: those rooms drop the person's recent chat lines and questions, and refuse
    further chat from a socket they left open."""
    for room_id in await _rooms_that_may_show(ctx):
        base = {"room_id": room_id, "user_id": user_id}
        hidden = {**base, "message_id": None, "by": None, "purge": True}
        await ctx.bus.publish(Event("chat.hidden", hidden, to_room=True))
        await ctx.bus.publish(Event("qa.removed", base, to_room=True))
    await silence_in_live_rooms(ctx, user_id)


async def reconnect_in_live_rooms(ctx: AppContext, user_id: int) -> None:
    """A session of the account ended (signed out, or every other one by a password change): its sockets in
    those rooms are closed with 4001, so each page reconnects as whoever its cookie now says — the same
    person on a session that still holds, an anonymous viewer on one that ended."""
    for room_id in await _rooms_that_may_show(ctx):
        data = {"room_id": room_id, "user_id": user_id}
        await ctx.bus.publish(Event("chat.sessions_ended", data, to_room=True, transient=True))


def subscribe(ctx: AppContext) -> None:
    """A site ban ends the account's sessions (accounts.service) and, here, its chat in open sockets; a
    sign-out or a password change ends sessions too, and the sockets opened under them reconnect."""

    async def disabled(event: Event) -> None:
        user_id = event.data.get("user_id")
        if isinstance(user_id, int):
            await silence_in_live_rooms(ctx, user_id)

    async def sessions_ended(event: Event) -> None:
        user_id = event.data.get("user_id")
        if isinstance(user_id, int):
            await reconnect_in_live_rooms(ctx, user_id)

    ctx.bus.subscribe("user.disabled", disabled)
    ctx.bus.subscribe("user.signed_out", sessions_ended)
    ctx.bus.subscribe("user.password_changed", sessions_ended)
