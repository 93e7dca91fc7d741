"""FAQ auto-replies: the host's keyword → answer pairs, per room or for every room of the host.

A keyword list that would answer ordinary chat is refused with ``faq.matches_everything``: no keywords, a
blank keyword, one of a single letter or character, a bare common word, wildcard or regex-looking patterns,
or a keyword found inside everyday lines such as "你好" or "666". Keywords are matched literally, as
substrings of the normalized chat line (NFKC, case-folded, spaces collapsed).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import Role, User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.errors import NotFound, ValidationFailed
from knowcast.growth.errors import GrowthCode
from knowcast.growth.models import FaqEntry
from knowcast.growth.schemas import FaqIn, FaqOut
from knowcast.rooms import service as rooms

MAX_KEYWORD = 40
MIN_MEANINGFUL = 2
WILDCARDS = frozenset("*%|^$\\[]{}()+")
COMMON_WORDS = frozenset(
    (
        "the",
        "and",
        "you",
        "your",
        "is",
        "it",
        "to",
        "of",
        "a",
        "an",
        "in",
        "on",
        "for",
        "me",
        "we",
        "this",
        "that",
        "what",
        "how",
        "why",
        "yes",
        "no",
        "ok",
        "okay",
        "hi",
        "hey",
        "的",
        "了",
        "是",
        "吗",
        "啊",
        "呢",
        "吧",
        "我",
        "你",
        "他",
        "她",
        "在",
        "有",
        "和",
        "就",
        "不",
        "也",
        "都",
        "很",
        "好",
        "么",
        "嗯",
        "哦",
    )
)
EVERYDAY_LINES = (
    "hi",
    "hello",
    "ok",
    "thanks",
    "lol",
    "666",
    "你好",
    "主播好",
    "大家好",
    "哈哈哈哈",
    "好的",
    "谢谢",
    "来了",
    "支持",
    "赞",
    "👍",
    "??",
    "。。。",
)


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def meaningful(text: str) -> int:
    """Letters, digits and ideographs: what is left of a keyword once punctuation and symbols are gone."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LN")


def check_keywords(raw: list[str]) -> list[str]:
    """The cleaned keyword list, or ValidationFailed(faq.matches_everything) naming the keyword at fault."""
    if not raw:
        raise _broad("give at least one keyword", "")
    cleaned: list[str] = []
    for keyword in raw:
        word = normalize(keyword).strip("?？!！。.,，~～ ")
        if len(word) > MAX_KEYWORD:
            raise ValidationFailed(
                f"a keyword has at most {MAX_KEYWORD} characters",
                code=GrowthCode.FAQ_KEYWORD_TOO_LONG,
                fields={"keywords": keyword},
            )
        if not word:
            raise _broad("a keyword is blank", keyword)
        if any(ch in WILDCARDS for ch in word) or ".*" in word or ".+" in word:
            raise _broad("keywords are plain words, not patterns or wildcards", keyword)
        if meaningful(word) < MIN_MEANINGFUL:
            raise _broad("a keyword needs at least two letters or characters", keyword)
        if word in COMMON_WORDS:
            raise _broad("this word is in almost every message", keyword)
        if any(word in normalize(line) for line in EVERYDAY_LINES):
            raise _broad("this keyword would answer everyday greetings", keyword)
        if word not in cleaned:
            cleaned.append(word)
    return cleaned


def _broad(message: str, keyword: str) -> ValidationFailed:
    return ValidationFailed(
        f"this keyword list would match almost every message: {message}",
        code=GrowthCode.FAQ_MATCHES_EVERYTHING,
        fields={"keywords": keyword or "(empty)"},
    )


def out(entry: FaqEntry) -> FaqOut:
    return FaqOut.model_validate(entry)


async def _scope(session: AsyncSession, user: User, room_id: int | None) -> tuple[int, int | None]:
    """(host id, room id) an entry belongs to: a room's entry is its host's, even when the owner writes it."""
    if room_id is None:
        return user.id, None
    room = await rooms.get_managed_room(session, user, room_id)
    return room.host_id, room.id


async def create(session: AsyncSession, ctx: AppContext, user: User, data: FaqIn) -> FaqEntry:
    keywords = check_keywords(data.keywords)
    host_id, room_id = await _scope(session, user, data.room_id)
    entry = FaqEntry(host_id=host_id, room_id=room_id, keywords=keywords, answer=data.answer)
    session.add(entry)
    await session.commit()
    await _changed(ctx, entry)
    return entry


async def get_managed(session: AsyncSession, user: User, entry_id: int) -> FaqEntry:
    entry = await session.get(FaqEntry, entry_id)
    if entry is None or (entry.host_id != user.id and user.role is not Role.OWNER):
        raise NotFound("no such answer", code=GrowthCode.FAQ_NOT_FOUND)
    return entry


async def update_entry(session: AsyncSession, ctx: AppContext, user: User, entry: FaqEntry, data: FaqIn) -> FaqEntry:
    entry.keywords = check_keywords(data.keywords)
    host_id, entry.room_id = await _scope(session, user, data.room_id)
    if entry.room_id is not None:
        entry.host_id = host_id
    entry.answer = data.answer
    await session.commit()
    await _changed(ctx, entry)
    return entry


async def delete(session: AsyncSession, ctx: AppContext, entry: FaqEntry) -> None:
    await session.delete(entry)
    await session.commit()
    await _changed(ctx, entry)


async def _changed(ctx: AppContext, entry: FaqEntry) -> None:
    await ctx.bus.publish(Event("faq.changed", {"host_id": entry.host_id, "faq_room_id": entry.room_id}))


async def of_host(session: AsyncSession, host_id: int, room_id: int | None = None) -> list[FaqEntry]:
    query = select(FaqEntry).where(FaqEntry.host_id == host_id)
    if room_id is not None:
        query = query.where(or_(FaqEntry.room_id.is_(None), FaqEntry.room_id == room_id))
    return list(await session.scalars(query.order_by(FaqEntry.id)))


async def for_room(session: AsyncSession, room_id: int) -> list[FaqEntry]:
    """The entries that answer in a room: the room's own first, then the host's shop-wide ones."""
    room = await rooms.get_room(session, room_id)
    query = select(FaqEntry).where(
        FaqEntry.host_id == room.host_id, or_(FaqEntry.room_id.is_(None), FaqEntry.room_id == room_id)
    )
    entries = list(await session.scalars(query.order_by(FaqEntry.room_id.is_(None), FaqEntry.id)))
    return entries


async def count_reply(session: AsyncSession, entry_id: int) -> None:
    await session.execute(
        update(FaqEntry)
        .where(FaqEntry.id == entry_id)
        .values(replies=FaqEntry.replies + 1)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
