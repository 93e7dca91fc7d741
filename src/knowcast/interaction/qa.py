"""Questions and answers: viewers ask and upvote, the host (or a guest expert) answers, the host pins.

Every change is published after commit as a broadcast ``qa.*`` event carrying the whole question, so a
client applies it as an upsert and the order (pinned, open before answered, most votes) is recomputed there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.errors import Conflict, NotFound, PermissionDenied
from knowcast.interaction import moderation
from knowcast.interaction.errors import InteractionCode
from knowcast.interaction.models import Question, QuestionVote
from knowcast.interaction.schemas import QuestionOut
from knowcast.rooms.models import Room
from knowcast.rooms.service import ensure_can_watch

TOP = 30


async def _view(session: AsyncSession, question_id: int) -> QuestionOut:
    views = await _views(session, Question.id == question_id)
    if not views:
        raise NotFound("no such question", code=InteractionCode.QA_NOT_FOUND)
    return views[0]


async def _views(session: AsyncSession, *where: Any, limit: int | None = None) -> list[QuestionOut]:
    asker, answerer = aliased(User), aliased(User)
    query = (
        select(Question, asker.display_name, answerer.display_name)
        .join(asker, asker.id == Question.user_id)
        .outerjoin(answerer, answerer.id == Question.answered_by)
        .where(*where)
        .order_by(Question.pinned.desc(), Question.answered, Question.votes.desc(), Question.id)
        .limit(limit)
    )
    return [
        QuestionOut(
            id=q.id,
            user_id=q.user_id,
            name=name,
            text=q.text,
            votes=q.votes,
            answered=q.answered,
            pinned=q.pinned,
            answer=q.answer,
            answered_by=by,
            at=q.created_at.isoformat(),
        )
        for q, name, by in (await session.execute(query)).tuples()
    ]


async def top(session: AsyncSession, room_id: int, limit: int = TOP) -> list[QuestionOut]:
    return await _views(session, Question.room_id == room_id, limit=limit)


async def _question(session: AsyncSession, room: Room, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None or question.room_id != room.id:
        raise NotFound("no such question", code=InteractionCode.QA_NOT_FOUND)
    return question


async def _publish(ctx: AppContext, name: str, room: Room, view: QuestionOut) -> None:
    await ctx.bus.publish(Event(name, {"room_id": room.id, "question": view.model_dump()}, to_room=True))


async def ask(session: AsyncSession, ctx: AppContext, user: User, room: Room, text: str) -> QuestionOut:
    await ensure_can_watch(session, user, room)
    banned, _ = await moderation.sanctions_of(session, room.id, user.id)
    if banned:
        raise PermissionDenied("you were removed from this room's chat", code=InteractionCode.CHAT_BANNED)
    question = Question(room_id=room.id, user_id=user.id, text=text)
    session.add(question)
    await session.commit()
    view = await _view(session, question.id)
    await _publish(ctx, "qa.asked", room, view)
    return view


async def upvote(session: AsyncSession, ctx: AppContext, user: User, room: Room, question_id: int) -> QuestionOut:
    await ensure_can_watch(session, user, room)
    await _question(session, room, question_id)
    session.add(QuestionVote(question_id=question_id, user_id=user.id))
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("you already upvoted this question", code=InteractionCode.QA_ALREADY_VOTED) from exc
    await session.execute(update(Question).where(Question.id == question_id).values(votes=Question.votes + 1))
    await session.commit()
    view = await _view(session, question_id)
    await _publish(ctx, "qa.updated", room, view)
    return view


async def answer(
    session: AsyncSession, ctx: AppContext, user: User, room: Room, question_id: int, text: str
) -> QuestionOut:
    """The host, a moderator or an invited guest expert marks a question answered (optionally in writing)."""
    mine = await moderation.standing(session, user, room)
    if not (mine.can_answer or mine.can_moderate):
        raise PermissionDenied(
            "only the host and guest experts answer questions", code=InteractionCode.QA_CANNOT_ANSWER
        )
    question = await _question(session, room, question_id)
    question.answered, question.answered_by = True, user.id
    question.answer = " ".join(text.split())
    await session.commit()
    view = await _view(session, question_id)
    await _publish(ctx, "qa.updated", room, view)
    return view


async def pin(
    session: AsyncSession, ctx: AppContext, user: User, room: Room, question_id: int, pinned: bool
) -> QuestionOut:
    """At most one pinned question per room: pinning one unpins the other."""
    await moderation.ensure_can_moderate(session, user, room)
    question = await _question(session, room, question_id)
    previous = list(
        await session.scalars(select(Question.id).where(Question.room_id == room.id, Question.pinned.is_(True)))
    )
    if pinned:
        await session.execute(update(Question).where(Question.room_id == room.id).values(pinned=False))
    question.pinned = pinned
    await session.commit()
    for other in previous:
        if other != question_id:
            await _publish(ctx, "qa.updated", room, await _view(session, other))
    view = await _view(session, question_id)
    await _publish(ctx, "qa.updated", room, view)
    return view
