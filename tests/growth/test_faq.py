"""FAQ auto-replies: keyword lists that would answer everything are refused; matching chat lines in a live room
get one automated answer per viewer per question per window, marked as such and counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.context import AppContext
from tests.growth.conftest import go, make_room
from tests.realtime.harness import LiveApp, open_viewer, serve, token_of


@pytest.fixture
async def live(app: Any) -> AsyncIterator[LiveApp]:
    async for server in serve(app):
        yield server


@pytest.mark.parametrize(
    "keywords",
    [
        [],
        [""],
        ["   "],
        ["a"],
        ["买"],
        ["*"],
        [".*"],
        ["%"],
        ["怎么买", "?"],
        ["the"],
        ["的"],
        ["你好"],
        ["主播"],
        ["a.*b"],
    ],
)
async def test_keyword_lists_that_match_everything_are_refused(make_user: Any, keywords: list[str]) -> None:
    host = await make_user(Role.HOST)
    response = await host.client.post("/api/v1/faq", json={"keywords": keywords, "answer": "点下方小黄车"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "faq.matches_everything"


async def test_faq_entries_belong_to_their_host(make_user: Any) -> None:
    host, other, viewer = await make_user(Role.HOST), await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    body = {"keywords": ["怎么买", "How to BUY"], "answer": "点下方小黄车", "room_id": room["id"]}
    created = await host.client.post("/api/v1/faq", json=body)
    assert created.status_code == 201 and created.json()["keywords"] == ["怎么买", "how to buy"]
    faq_id = created.json()["id"]
    assert (await other.client.post("/api/v1/faq", json=body)).json()["error"]["code"] == "room.not_host"
    assert (await other.client.put(f"/api/v1/faq/{faq_id}", json=body)).status_code == 404
    assert (await viewer.client.get("/api/v1/faq")).status_code == 403
    long_word = {"keywords": ["长" * 41], "answer": "x"}
    assert (await host.client.post("/api/v1/faq", json=long_word)).json()["error"]["code"] == "faq.keyword_too_long"
    assert [e["id"] for e in (await host.client.get(f"/api/v1/faq?room_id={room['id']}")).json()] == [faq_id]
    assert (await host.client.delete(f"/api/v1/faq/{faq_id}")).status_code == 204


async def test_matching_chat_gets_one_marked_answer_per_viewer_per_window(
    live: LiveApp, make_user: Any, ctx: AppContext
) -> None:
    counted: list[Event] = []

    async def count(event: Event) -> None:
        counted.append(event)

    ctx.bus.subscribe("faq.replied", count)
    host = await make_user(Role.HOST, name="主播")
    asker, other = await make_user(name="小明"), await make_user(name="小红")
    room = await make_room(host)
    await host.client.post("/api/v1/faq", json={"keywords": ["怎么买"], "answer": "点下方小黄车就能买"})
    await host.client.post("/api/v1/faq", json={"keywords": ["有回放吗"], "answer": "有，直播结束后就能看"})
    await go(host, room["id"], "live")
    one = await open_viewer(live, room["id"], token_of(asker), join={})
    two = await open_viewer(live, room["id"], token_of(other), join={})

    await one.send({"type": "chat", "text": "请问这个怎么买呀"})
    reply = await one.until(lambda m: _replies(m) != [])
    event = _replies(reply)[0]
    assert event["data"]["auto"] is True and event["data"]["system"] is True
    assert event["data"]["text"] == "[自动回复] @小明: 点下方小黄车就能买"
    # and the catalog key + params each viewer's page writes in its own language ("[Auto-reply] @小明: …")
    assert event["data"]["message"] == "growth.faq.reply_to"
    assert event["data"]["params"] == {"name": "小明", "answer": "点下方小黄车就能买"}
    assert not ctx.bus.refused  # the published events match their models (knowcast/event_registry.py)
    await one.send({"type": "chat", "text": "怎么买？？"})  # the same question again, inside the window
    await one.send({"type": "chat", "text": "有回放吗"})  # another question is answered
    second = await one.until(lambda m: any(e["data"]["faq_id"] != event["data"]["faq_id"] for e in _replies(m)))
    assert "有，直播结束后就能看" in _replies(second)[0]["data"]["text"]
    await two.send({"type": "chat", "text": "怎么买"})  # another viewer gets their own answer
    await two.until(lambda m: any(e["data"]["user_id"] == other.user.id for e in _replies(m)))
    await asyncio.sleep(0.3)  # let any (wrong) extra answer ride a tick before counting
    assert [(e.data["user_id"], e.data["faq_id"]) for e in counted] == [
        (asker.user.id, event["data"]["faq_id"]),
        (asker.user.id, _replies(second)[0]["data"]["faq_id"]),
        (other.user.id, event["data"]["faq_id"]),
    ]
    listed = {e["answer"]: e["replies"] for e in (await host.client.get("/api/v1/faq")).json()}
    assert listed == {"点下方小黄车就能买": 2, "有，直播结束后就能看": 1}
    await one.close()
    await two.close()


def _replies(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in message.get("events", ()) if e.get("name") == "faq.replied"]
