"""A site ban (the owner disables an account) reaches sockets already open: the account can no longer chat.

Its sign-in sessions and API tokens end in accounts and integrations (tests/privacy, tests/integrations);
a WebSocket joined before the ban would otherwise keep chatting until it reconnects.
"""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from tests.realtime.harness import LiveApp, open_viewer, token_of


async def test_a_banned_account_cannot_chat_on_a_socket_it_opened_before(
    live: LiveApp, room: Any, make_user: Any
) -> None:
    owner, troll = await make_user(Role.OWNER), await make_user()
    watcher = await open_viewer(live, room["id"], join={})
    socket = await open_viewer(live, room["id"], token_of(troll), join={})
    await socket.send({"type": "chat", "text": "封号之前"})
    await watcher.chat_text("封号之前")
    assert (await owner.client.post(f"/api/v1/users/{troll.user.id}/disable")).status_code == 200
    banned = await socket.until(lambda m: any(e["name"] == "chat.user_banned" for e in m.get("events", [])))
    assert [e["data"]["user_id"] for e in banned["events"] if e["name"] == "chat.user_banned"] == [troll.user.id]
    await socket.send({"type": "chat", "text": "封号之后"})
    error = await socket.until(lambda m: m.get("type") == "error")
    assert error["code"] == "chat.banned"
    assert (await troll.client.get("/api/v1/auth/me")).status_code == 401
