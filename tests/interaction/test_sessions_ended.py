"""A sign-in session that ends reaches the sockets opened under it: signing out, or changing the password
(which ends every other session), closes the account's open sockets with 4001, and each page rejoins as
its cookie now says — a session that ended as an anonymous viewer who cannot chat, one that still holds as
the same person (docs/protocol.md, close codes)."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from knowcast.accounts import service as accounts
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from knowcast.realtime.protocol import SESSION_ENDED
from tests.conftest import PASSWORD
from tests.realtime.harness import LiveApp, Viewer, open_viewer, token_of


async def _closed_with(viewer: Viewer) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await viewer.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def _second_device(ctx: AppContext, member: Any) -> str:
    async with ctx.db.session() as session:
        return (await accounts.open_session(session, ctx, member.user, ip=None, user_agent="phone")).token


async def test_signing_out_closes_the_accounts_sockets_and_only_the_ended_session_loses_its_voice(
    live: LiveApp, room: Any, make_user: Any, ctx: AppContext
) -> None:
    member, other = await make_user(), await make_user()
    laptop, phone = token_of(member), await _second_device(ctx, member)
    on_laptop = await open_viewer(live, room["id"], laptop, join={})
    on_phone = await open_viewer(live, room["id"], phone, join={})
    bystander = await open_viewer(live, room["id"], token_of(other), join={})
    assert on_laptop.welcome["you"]["user_id"] == member.user.id and on_laptop.welcome["you"]["can_chat"] is True

    assert (await member.client.post("/api/v1/auth/signout")).status_code == 204
    assert await _closed_with(on_laptop) == SESSION_ENDED
    assert await _closed_with(on_phone) == SESSION_ENDED

    rejoined = await open_viewer(live, room["id"], laptop, join={})  # the cookie of the ended session
    assert rejoined.welcome["you"]["user_id"] is None and rejoined.welcome["you"]["can_chat"] is False
    await rejoined.send({"type": "chat", "text": "退出之后"})
    assert (await rejoined.until(lambda m: m.get("type") == "error"))["code"] == "chat.signin_required"
    still = await open_viewer(live, room["id"], phone, join={})  # the phone's session holds
    assert still.welcome["you"]["user_id"] == member.user.id
    await still.send({"type": "chat", "text": "手机还在"})
    await bystander.chat_text("手机还在")  # and the bystander's socket was never closed
    late = await open_viewer(live, room["id"], join={})
    assert "chat.sessions_ended" not in [e["name"] for e in late.welcome["snapshot"]["events"]]  # not kept


async def test_a_password_change_closes_the_sockets_of_the_sessions_it_ended(
    live: LiveApp, room: Any, make_user: Any
) -> None:
    member = await make_user()
    old = token_of(member)
    socket = await open_viewer(live, room["id"], old, join={})
    body = {"current_password": PASSWORD, "new_password": "another long password"}
    changed = await member.client.post("/api/v1/auth/password", json=body)
    assert changed.status_code == 200
    assert await _closed_with(socket) == SESSION_ENDED
    new = changed.cookies[SESSION_COOKIE]  # the session the change opened for this page
    assert new != old
    again = await open_viewer(live, room["id"], new, join={})
    assert again.welcome["you"]["user_id"] == member.user.id and again.welcome["you"]["can_chat"] is True
    stale = await open_viewer(live, room["id"], old, join={})
    assert stale.welcome["you"]["user_id"] is None
