"""Moderation over the API, seen on the live socket: hide, mute, ban (reconnect included), slow mode,
per-room moderators, guest experts and the shop's banned words."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from tests.realtime.harness import LiveApp, Viewer, open_viewer, token_of


async def error_of(viewer: Viewer) -> str:
    return str((await viewer.until(lambda m: m.get("type") == "error"))["code"])


def event(name: str) -> Any:
    return lambda m: any(e["name"] == name for e in m.get("events", []))


async def test_a_hidden_message_disappears_for_everyone(live: LiveApp, room: Any, host: Any, make_user: Any) -> None:
    alice = await make_user()
    a = await open_viewer(live, room["id"], token_of(alice), join={})
    watcher = await open_viewer(live, room["id"], join={})
    await a.send({"type": "chat", "text": "广告链接"})
    tick = await watcher.chat_text("广告链接")
    message_id = tick["chat"][0]["id"]
    response = await host.client.post(f"/api/v1/rooms/{room['id']}/chat/{message_id}/hide", json={})
    assert response.status_code == 204
    hidden = await watcher.until(event("chat.hidden"))
    assert hidden["events"][0]["data"]["message_id"] == message_id
    late = await open_viewer(live, room["id"], join={})
    assert all(line["id"] != message_id for line in late.welcome["snapshot"]["chat"])


async def test_viewers_cannot_moderate(room: Any, make_user: Any) -> None:
    viewer = await make_user()
    response = await viewer.client.post(f"/api/v1/rooms/{room['id']}/chat/abc/hide", json={})
    assert response.status_code == 403 and response.json()["error"]["code"] == "chat.not_moderator"
    response = await viewer.client.post(
        f"/api/v1/rooms/{room['id']}/sanctions", json={"user_id": viewer.user.id, "kind": "ban"}
    )
    assert response.status_code == 403


async def test_a_banned_user_cannot_chat_even_after_reconnecting(
    live: LiveApp, room: Any, host: Any, make_user: Any
) -> None:
    troll = await make_user()
    t = await open_viewer(live, room["id"], token_of(troll), join={})
    response = await host.client.post(
        f"/api/v1/rooms/{room['id']}/sanctions", json={"user_id": troll.user.id, "kind": "ban", "reason": "spam"}
    )
    assert response.status_code == 201
    await t.until(event("chat.user_banned"))
    await t.send({"type": "chat", "text": "我又来了"})
    assert await error_of(t) == "chat.banned"
    await t.close()
    again = await open_viewer(live, room["id"], token_of(troll), join={})
    assert again.welcome["you"]["banned"] is True and again.welcome["you"]["can_chat"] is False
    await again.send({"type": "chat", "text": "换个连接"})
    assert await error_of(again) == "chat.banned"
    lifted = await host.client.delete(f"/api/v1/rooms/{room['id']}/sanctions/{troll.user.id}/ban")
    assert lifted.status_code == 204
    await again.until(event("chat.user_unbanned"))
    await again.send({"type": "chat", "text": "我改了"})
    await again.chat_text("我改了")


async def test_a_muted_user_is_told_until_when(live: LiveApp, room: Any, host: Any, make_user: Any) -> None:
    noisy = await make_user()
    n = await open_viewer(live, room["id"], token_of(noisy), join={})
    body = {"user_id": noisy.user.id, "kind": "mute", "seconds": 300}
    assert (await host.client.post(f"/api/v1/rooms/{room['id']}/sanctions", json=body)).status_code == 201
    await n.until(event("chat.user_muted"))
    await n.send({"type": "chat", "text": "hello"})
    error = await n.until(lambda m: m.get("type") == "error")
    assert error["code"] == "chat.muted" and 250 < error["retry_after"] <= 301


async def test_the_host_cannot_be_banned(room: Any, host: Any, make_user: Any) -> None:
    moderator = await make_user(Role.MODERATOR)
    body = {"user_id": host.user.id, "kind": "ban"}
    response = await moderator.client.post(f"/api/v1/rooms/{room['id']}/sanctions", json=body)
    assert response.status_code == 409 and response.json()["error"]["code"] == "chat.cannot_sanction"


async def test_slow_mode_spaces_out_viewers_but_not_the_host(
    live: LiveApp, room: Any, host: Any, make_user: Any
) -> None:
    viewer = await make_user()
    v = await open_viewer(live, room["id"], token_of(viewer), join={})
    h = await open_viewer(live, room["id"], token_of(host), join={})
    response = await host.client.put(f"/api/v1/rooms/{room['id']}/chat/slow-mode", json={"seconds": 30})
    assert response.status_code == 204
    await v.until(event("chat.slow_mode"))
    await v.send({"type": "chat", "text": "一"})
    await v.chat_text("一")
    await v.send({"type": "chat", "text": "二"})
    error = await v.until(lambda m: m.get("type") == "error")
    assert error["code"] == "chat.slow_mode" and error["retry_after"] >= 25
    for text in ("主播一", "主播二"):
        await h.send({"type": "chat", "text": text})
        await h.chat_text(text)
    late = await open_viewer(live, room["id"], join={})
    assert late.welcome["snapshot"]["slow_mode"] == 30


async def test_a_room_moderator_can_hide_in_that_room_only(live: LiveApp, room: Any, host: Any, make_user: Any) -> None:
    helper = await make_user()
    added = await host.client.post(f"/api/v1/rooms/{room['id']}/moderators", json={"email": helper.user.email})
    assert added.status_code == 201
    again = await host.client.post(f"/api/v1/rooms/{room['id']}/moderators", json={"email": helper.user.email})
    assert again.status_code == 409
    h = await open_viewer(live, room["id"], token_of(helper), join={})
    assert h.welcome["you"]["can_moderate"] is True and h.welcome["you"]["badge"] == "mod"
    assert (await helper.client.post(f"/api/v1/rooms/{room['id']}/chat/x1/hide", json={})).status_code == 204
    other = await host.client.post(
        "/api/v1/rooms", json={"title": "另一个直播间", "scheduled_at": "2030-01-01T00:00:00Z"}
    )
    response = await helper.client.post(f"/api/v1/rooms/{other.json()['id']}/chat/x1/hide", json={})
    assert response.status_code == 403
    listed = await host.client.get(f"/api/v1/rooms/{room['id']}/moderators")
    assert [p["user_id"] for p in listed.json()] == [helper.user.id]
    assert (await host.client.delete(f"/api/v1/rooms/{room['id']}/moderators/{helper.user.id}")).status_code == 204
    assert (await helper.client.post(f"/api/v1/rooms/{room['id']}/chat/x1/hide", json={})).status_code == 403


async def test_an_invited_guest_expert_gets_a_badge(live: LiveApp, room: Any, host: Any, make_user: Any) -> None:
    expert = await make_user(name="李老师")
    invited = await host.client.post(
        f"/api/v1/rooms/{room['id']}/guests", json={"email": expert.user.email, "title": "注册理财师"}
    )
    assert invited.status_code == 201
    e = await open_viewer(live, room["id"], token_of(expert), join={})
    assert e.welcome["you"]["badge"] == "guest" and e.welcome["you"]["can_answer"] is True
    await e.send({"type": "chat", "text": "大家好，我是李老师"})
    tick = await e.chat_text("大家好，我是李老师")
    assert tick["chat"][0]["badge"] == "guest"
    guests = (await host.client.get(f"/api/v1/rooms/{room['id']}/guests")).json()
    assert guests == [{"user_id": expert.user.id, "name": "李老师", "title": "注册理财师"}]
    unknown = await host.client.post(f"/api/v1/rooms/{room['id']}/guests", json={"email": "nobody@example.com"})
    assert unknown.status_code == 404


async def test_only_the_rooms_host_invites(room: Any, make_user: Any) -> None:
    other_host = await make_user(Role.HOST)
    response = await other_host.client.post(f"/api/v1/rooms/{room['id']}/guests", json={"email": other_host.user.email})
    assert response.status_code == 403


async def test_banned_words_are_the_owners_to_edit_and_block_chat(
    live: LiveApp, room: Any, host: Any, make_user: Any
) -> None:
    owner = await make_user(Role.OWNER)
    assert (await host.client.post("/api/v1/chat/banned-words", json={"word": "骗子"})).status_code == 403
    added = await owner.client.post("/api/v1/chat/banned-words", json={"word": "  骗子 "})
    assert added.status_code == 201 and added.json() == {"words": ["骗子"]}
    await owner.client.post("/api/v1/chat/banned-words", json={"word": "SPAM"})
    assert (await owner.client.get("/api/v1/chat/banned-words")).json() == {"words": ["spam", "骗子"]}
    viewer = await make_user()
    v = await open_viewer(live, room["id"], token_of(viewer), join={})
    await v.send({"type": "chat", "text": "主播是骗子"})
    assert await error_of(v) == "chat.blocked_word"
    await v.send({"type": "chat", "text": "buy Spam now"})
    assert await error_of(v) == "chat.blocked_word"
    removed = await owner.client.delete("/api/v1/chat/banned-words/骗子")
    assert removed.json() == {"words": ["spam"]}
    await v.send({"type": "chat", "text": "主播不是骗子"})
    await v.chat_text("主播不是骗子")
