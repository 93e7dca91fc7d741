"""The owner's page for the shop's banned chat words: /studio/chat-words."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from knowcast.deps import Ctx, Db, Owner
from knowcast.interaction import moderation
from knowcast.interaction.schemas import WordIn
from knowcast.web.pages.forms import form_values
from knowcast.web.templating import pages_of

router = APIRouter(prefix="/studio/chat-words", include_in_schema=False)


@router.get("")
async def words_page(request: Request, db: Db, _owner: Owner) -> Response:
    words = await moderation.banned_words(db)
    return pages_of(request).render(request, "chat_words.html", words=words, invalid=False)


@router.post("")
async def add_word(request: Request, ctx: Ctx, db: Db, _owner: Owner) -> Response:
    try:
        word = WordIn(word=(await form_values(request)).get("word", "")).word
    except ValidationError:
        words = await moderation.banned_words(db)
        return pages_of(request).render(request, "chat_words.html", 422, words=words, invalid=True)
    await moderation.add_banned_word(db, ctx, word)
    return RedirectResponse("/studio/chat-words", status_code=303)


@router.post("/delete")
async def remove_word(request: Request, ctx: Ctx, db: Db, _owner: Owner) -> Response:
    word = (await form_values(request)).get("word", "").strip().lower()[:64]
    await moderation.remove_banned_word(db, ctx, word)
    return RedirectResponse("/studio/chat-words", status_code=303)
