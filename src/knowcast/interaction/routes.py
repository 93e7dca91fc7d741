"""JSON API for moderation, Q&A and polls. Chat lines, likes and heartbeats travel over the room's WebSocket."""

from __future__ import annotations

from fastapi import APIRouter, Response

from knowcast.deps import Ctx, CurrentUser, Db, Id, MaybeUser, Owner, Public
from knowcast.interaction import moderation, polls, qa
from knowcast.interaction.models import RoomGuest, RoomModerator, SanctionKind
from knowcast.interaction.schemas import (
    AnswerIn,
    HideIn,
    PersonIn,
    PersonOut,
    PinIn,
    PollIn,
    PollOut,
    QuestionIn,
    QuestionOut,
    SanctionIn,
    SanctionOut,
    SlowModeIn,
    VoteIn,
    WordIn,
    WordList,
)
from knowcast.rooms.service import get_room, watchable_room

router = APIRouter(prefix="/api/v1/rooms/{room_id}", tags=["interaction"])
shop = APIRouter(prefix="/api/v1/chat", tags=["interaction"])


@router.post("/chat/{message_id}/hide", status_code=204)
async def hide(room_id: Id, message_id: str, data: HideIn, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    room = await get_room(db, room_id)
    await moderation.hide_message(db, ctx, user, room, message_id[:64], data.purge_user_id)
    return Response(status_code=204)


@router.post("/sanctions", status_code=201)
async def sanction(room_id: Id, data: SanctionIn, ctx: Ctx, db: Db, user: CurrentUser) -> SanctionOut:
    row = await moderation.sanction(db, ctx, user, await get_room(db, room_id), data)
    return SanctionOut(user_id=row.user_id, kind=row.kind, until=row.until.isoformat() if row.until else None)


@router.delete("/sanctions/{user_id}/{kind}", status_code=204)
async def lift(room_id: Id, user_id: Id, kind: SanctionKind, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    await moderation.lift(db, ctx, user, await get_room(db, room_id), user_id, kind)
    return Response(status_code=204)


@router.put("/chat/slow-mode", status_code=204)
async def slow_mode(room_id: Id, data: SlowModeIn, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    await moderation.set_slow_mode(db, ctx, user, await get_room(db, room_id), data.seconds)
    return Response(status_code=204)


@router.get("/moderators")
async def moderators(room_id: Id, db: Db, user: CurrentUser) -> list[PersonOut]:
    room = await get_room(db, room_id)
    await moderation.ensure_can_moderate(db, user, room)
    return await moderation.people(db, room, RoomModerator)


@router.post("/moderators", status_code=201)
async def add_moderator(room_id: Id, data: PersonIn, ctx: Ctx, db: Db, user: CurrentUser) -> PersonOut:
    return await moderation.add_moderator(db, ctx, user, await get_room(db, room_id), data)


@router.delete("/moderators/{user_id}", status_code=204)
async def remove_moderator(room_id: Id, user_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    await moderation.remove_person(db, ctx, user, await get_room(db, room_id), user_id, RoomModerator)
    return Response(status_code=204)


@router.get("/guests", dependencies=[Public])
async def guests(room_id: Id, db: Db, user: MaybeUser) -> list[PersonOut]:
    return await moderation.people(db, await watchable_room(db, user, room_id), RoomGuest)


@router.post("/guests", status_code=201)
async def invite_guest(room_id: Id, data: PersonIn, ctx: Ctx, db: Db, user: CurrentUser) -> PersonOut:
    return await moderation.invite_guest(db, ctx, user, await get_room(db, room_id), data)


@router.delete("/guests/{user_id}", status_code=204)
async def remove_guest(room_id: Id, user_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    await moderation.remove_person(db, ctx, user, await get_room(db, room_id), user_id, RoomGuest)
    return Response(status_code=204)


@router.get("/questions", dependencies=[Public])
async def questions(room_id: Id, db: Db, user: MaybeUser) -> list[QuestionOut]:
    return await qa.top(db, (await watchable_room(db, user, room_id)).id)


@router.post("/questions", status_code=201)
async def ask(room_id: Id, data: QuestionIn, ctx: Ctx, db: Db, user: CurrentUser) -> QuestionOut:
    return await qa.ask(db, ctx, user, await get_room(db, room_id), data.text)


@router.post("/questions/{question_id}/vote")
async def upvote(room_id: Id, question_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> QuestionOut:
    return await qa.upvote(db, ctx, user, await get_room(db, room_id), question_id)


@router.post("/questions/{question_id}/answer")
async def answer(room_id: Id, question_id: Id, data: AnswerIn, ctx: Ctx, db: Db, user: CurrentUser) -> QuestionOut:
    return await qa.answer(db, ctx, user, await get_room(db, room_id), question_id, data.answer)


@router.post("/questions/{question_id}/pin")
async def pin(room_id: Id, question_id: Id, data: PinIn, ctx: Ctx, db: Db, user: CurrentUser) -> QuestionOut:
    return await qa.pin(db, ctx, user, await get_room(db, room_id), question_id, data.pinned)


@router.get("/polls/current", dependencies=[Public])
async def current_poll(room_id: Id, db: Db, user: MaybeUser) -> PollOut | None:
    return await polls.current(db, (await watchable_room(db, user, room_id)).id)


@router.post("/polls", status_code=201)
async def open_poll(room_id: Id, data: PollIn, ctx: Ctx, db: Db, user: CurrentUser) -> PollOut:
    return await polls.open_poll(db, ctx, user, await get_room(db, room_id), data)


@router.post("/polls/{poll_id}/vote")
async def vote(room_id: Id, poll_id: Id, data: VoteIn, ctx: Ctx, db: Db, user: CurrentUser) -> PollOut:
    return await polls.vote(db, ctx, user, await get_room(db, room_id), poll_id, data.option)


@router.post("/polls/{poll_id}/close")
async def close_poll(room_id: Id, poll_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> PollOut:
    return await polls.close(db, ctx, user, await get_room(db, room_id), poll_id)


@shop.get("/banned-words")
async def banned_words(db: Db, _owner: Owner) -> WordList:
    return WordList(words=await moderation.banned_words(db))


@shop.post("/banned-words", status_code=201)
async def add_banned_word(data: WordIn, ctx: Ctx, db: Db, _owner: Owner) -> WordList:
    return WordList(words=await moderation.add_banned_word(db, ctx, data.word))


@shop.delete("/banned-words/{word}")
async def remove_banned_word(word: str, ctx: Ctx, db: Db, _owner: Owner) -> WordList:
    return WordList(words=await moderation.remove_banned_word(db, ctx, word.strip().lower()[:64]))
