"""The owner edits the banned chat words on a page (forms with CSRF), and nobody else can."""

from __future__ import annotations

from typing import Any

from knowcast import csrf
from knowcast.accounts.models import Role
from tests.conftest import SECRET


async def test_the_owner_adds_and_removes_words_on_the_page(make_user: Any) -> None:
    owner = await make_user(Role.OWNER)
    token = csrf.token_for(SECRET, owner.client.cookies[csrf.COOKIE])
    form = {"csrf_token": token, "word": "  加微信 "}
    added = await owner.client.post("/studio/chat-words", data=form)
    assert added.status_code == 303
    page = await owner.client.get("/studio/chat-words")
    assert page.status_code == 200 and "加微信" in page.text
    assert (await owner.client.get("/api/v1/chat/banned-words")).json() == {"words": ["加微信"]}
    blank = await owner.client.post("/studio/chat-words", data={"csrf_token": token, "word": "   "})
    assert blank.status_code == 422
    removed = await owner.client.post("/studio/chat-words/delete", data={"csrf_token": token, "word": "加微信"})
    assert removed.status_code == 303
    assert (await owner.client.get("/api/v1/chat/banned-words")).json() == {"words": []}


async def test_only_the_owner_sees_the_page(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    assert (await host.client.get("/studio/chat-words")).status_code == 403
