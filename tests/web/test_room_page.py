"""The public room page for a crowd (issue 16, point 2): rendered once per kind of viewer (language, consent
answer, role) and filled in per request with the viewer's nickname and CSRF token — the same bytes the FastAPI
route renders, never another viewer's name, re-rendered when the room changes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.context import AppContext
from knowcast.web.room_page import RoomPageFastPath, RoomPages
from tests.conftest import Member


async def _route_answers(_self: RoomPages, _room_id: int, _scope: Any) -> None:
    return None  # the fast path steps aside: the FastAPI route (the reference) answers


def _fast_path(app: Any) -> RoomPages:
    layer = app.middleware_stack
    while not isinstance(layer, RoomPageFastPath):
        layer = layer.app
    return layer.pages


async def _public_room(host: Member, **fields: Any) -> int:
    body = {"title": "万人直播间", "scheduled_at": "2030-01-01T10:00:00Z", "description": "讲理财", **fields}
    response = await host.client.post("/api/v1/rooms", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_the_fast_path_renders_what_the_route_renders(
    app: Any, client: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host: Member = await make_user(Role.HOST, name="主播")
    viewer: Member = await make_user(Role.VIEWER, name="小李")
    room_id = await _public_room(host)
    await client.get("/")  # the anonymous browser has its CSRF cookie, as after any visit
    client.cookies.set("kc_consent", "analytics")
    for who in (client, viewer.client, host.client):
        fast = await who.get(f"/rooms/{room_id}")
        with monkeypatch.context() as patched:
            patched.setattr(RoomPages, "answer", _route_answers)
            slow = await who.get(f"/rooms/{room_id}")
        assert fast.status_code == slow.status_code == 200
        assert fast.text == slow.text
        assert fast.headers["content-language"] == slow.headers["content-language"]
        assert fast.headers["content-security-policy"] == slow.headers["content-security-policy"]
    assert _fast_path(app).renders == 3  # anonymous, viewer, host


async def test_a_new_browser_gets_its_csrf_cookie_and_a_matching_token(client_factory: Any, make_user: Any) -> None:
    room_id = await _public_room(await make_user(Role.HOST))
    page = await client_factory(with_csrf=False).get(f"/rooms/{room_id}")
    from knowcast import csrf
    from tests.conftest import SECRET

    nonce = page.cookies.get(csrf.COOKIE)
    assert nonce and f'<meta name="csrf-token" content="{csrf.token_for(SECRET, nonce)}">' in page.text
    assert "\ue000" not in page.text and "\ue002" not in page.text


async def test_a_crowd_shares_renders_and_each_sees_only_their_own_name(
    app: Any, client_factory: Any, make_user: Any
) -> None:
    room_id = await _public_room(await make_user(Role.HOST))
    viewers: list[Member] = [await make_user(Role.VIEWER, name=f"观众{n}号") for n in range(20)]
    odd: Member = await make_user(Role.VIEWER, name='<b>"小&李"</b>')
    anonymous = [client_factory() for _ in range(10)]
    pages = await asyncio.gather(
        *(v.client.get(f"/rooms/{room_id}") for v in [*viewers, odd]), *(a.get(f"/rooms/{room_id}") for a in anonymous)
    )
    assert {p.status_code for p in pages} == {200}
    assert _fast_path(app).renders == 2  # one for the signed-in viewers, one for the anonymous
    for n, page in enumerate(pages[:20]):
        assert f"观众{n}号" in page.text
        assert not any(f"观众{m}号" in page.text for m in range(20) if m != n)
    assert "&lt;b&gt;&#34;小&amp;李&#34;&lt;/b&gt;" in pages[20].text and '<b>"小' not in pages[20].text
    assert all("观众" not in page.text and 'data-testid="nav-signin"' in page.text for page in pages[21:])


async def test_a_room_change_renders_the_page_again(ctx: AppContext, app: Any, client: Any, make_user: Any) -> None:
    host: Member = await make_user(Role.HOST)
    room_id = await _public_room(host)
    assert "万人直播间" in (await client.get(f"/rooms/{room_id}")).text
    response = await host.client.patch(f"/api/v1/rooms/{room_id}", json={"title": "改名后的直播间"})
    assert response.status_code == 200, response.text
    assert "改名后的直播间" in (await client.get(f"/rooms/{room_id}")).text
    live = await host.client.post(f"/api/v1/rooms/{room_id}/transitions", json={"to": "live"})
    assert live.status_code == 200, live.text
    assert 'data-state="live"' in (await client.get(f"/rooms/{room_id}")).text


async def test_a_room_with_tickets_is_rendered_per_viewer_by_the_route(app: Any, client: Any, make_user: Any) -> None:
    room_id = await _public_room(await make_user(Role.HOST), access_mode="ticket")
    page = await client.get(f"/rooms/{room_id}")
    assert page.status_code == 200 and 'data-testid="room-locked"' in page.text
    assert _fast_path(app).renders == 0
    assert (await client.get("/rooms/999999")).status_code == 404
