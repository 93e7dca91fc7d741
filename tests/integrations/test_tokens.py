"""API tokens: shown once, hashed at rest, scoped, revocable, expiring; bearer calls need no CSRF token."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from knowcast.accounts.models import Role, User
from knowcast.db.base import Base
from knowcast.db.registry import load_all_models
from knowcast.db.types import utcnow
from knowcast.integrations.models import ApiToken
from tests.integrations.conftest import ROOM, new_token


async def test_token_is_shown_once_and_only_its_hash_is_stored(make_user: Any, ctx: Any) -> None:
    host = await make_user(Role.HOST)
    created = await new_token(host, "rooms:read", "rooms:write")
    token = created["token"]
    assert token.startswith("kct_") and len(token) > 40
    assert created["hint"] == token[:10] and created["state"] == "active"
    listed = (await host.client.get("/api/v1/tokens")).json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert token not in str(listed) and "token" not in listed[0]
    assert await _database_holds(ctx, token[10:]) is False


async def _database_holds(ctx: Any, needle: str) -> bool:
    """Scan every row of every table for the text."""
    load_all_models()
    async with ctx.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in await conn.execute(text(f"SELECT * FROM {table.name}")):
                if needle in repr(tuple(row)):
                    return True
    return False


async def test_bearer_with_the_scope_acts_as_its_user_without_csrf(make_user: Any, bearer: Any) -> None:
    host = await make_user(Role.HOST)
    client = bearer((await new_token(host, "rooms:write", "rooms:read"))["token"])
    assert "x-csrf-token" not in client.headers and not client.cookies
    created = await client.post("/api/v1/rooms", json=ROOM)
    assert created.status_code == 201, created.text
    assert created.json()["host_id"] == host.user.id
    room_id = created.json()["id"]
    assert (await client.get(f"/api/v1/rooms/{room_id}/private")).status_code == 200
    moved = await client.post(f"/api/v1/rooms/{room_id}/transitions", json={"to": "live"})
    assert moved.status_code == 200 and moved.json()["state"] == "live"


async def test_bearer_without_the_scope_is_refused(make_user: Any, bearer: Any) -> None:
    host = await make_user(Role.HOST)
    room = (await host.client.post("/api/v1/rooms", json=ROOM)).json()
    reader = bearer((await new_token(host, "rooms:read"))["token"])
    assert (await reader.get(f"/api/v1/rooms/{room['id']}/private")).status_code == 200
    refused = await reader.post("/api/v1/rooms", json=ROOM)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "token.scope_missing"
    assert refused.json()["error"]["fields"] == {"scope": "rooms:write"}
    patched = await reader.patch(f"/api/v1/rooms/{room['id']}", json={"title": "x"})
    assert patched.json()["error"]["code"] == "token.scope_missing"


async def test_the_stream_key_needs_its_own_scope(make_user: Any, bearer: Any) -> None:
    """#14 point 7: a rooms:read token once returned the stream key, which lets its holder broadcast."""
    host = await make_user(Role.HOST)
    room = (await host.client.post("/api/v1/rooms", json=ROOM)).json()
    key = room["stream_key"]
    assert key  # the signed-in host sees it
    editor = bearer((await new_token(host, "rooms:read", "rooms:write"))["token"])
    for answer in (
        await editor.get(f"/api/v1/rooms/{room['id']}/private"),
        await editor.patch(f"/api/v1/rooms/{room['id']}", json={"title": "改名"}),
        await editor.post("/api/v1/rooms", json=ROOM),
    ):
        assert answer.status_code in (200, 201) and answer.json()["stream_key"] is None, answer.text
        assert key not in answer.text
    rotate = await editor.post(f"/api/v1/rooms/{room['id']}/stream-key")
    assert rotate.status_code == 403 and rotate.json()["error"]["fields"] == {"scope": "rooms:stream_key"}
    keeper = bearer((await new_token(host, "rooms:read", "rooms:stream_key"))["token"])
    assert (await keeper.get(f"/api/v1/rooms/{room['id']}/private")).json()["stream_key"] == key
    rotated = await keeper.post(f"/api/v1/rooms/{room['id']}/stream-key")
    assert rotated.status_code == 200 and rotated.json()["stream_key"] not in (None, key)


async def test_routes_that_name_no_scope_refuse_tokens(make_user: Any, bearer: Any) -> None:
    owner = await make_user(Role.OWNER)
    client = bearer((await new_token(owner, "rooms:read", "rooms:write", "webhooks:manage"))["token"])
    for method, path, body in (
        ("GET", "/api/v1/auth/me", None),
        ("GET", "/api/v1/tokens", None),
        ("POST", "/api/v1/tokens", {"name": "more", "scopes": ["rooms:read"]}),
    ):
        response = await client.request(method, path, json=body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "token.not_accepted"


async def test_a_token_acts_with_its_users_current_role(make_user: Any, bearer: Any, ctx: Any) -> None:
    host = await make_user(Role.HOST)
    client = bearer((await new_token(host, "rooms:write"))["token"])
    async with ctx.db.session() as session:
        await session.execute(update(User).where(User.id == host.user.id).values(role=Role.VIEWER))
        await session.commit()
    refused = await client.post("/api/v1/rooms", json=ROOM)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.forbidden"


async def test_a_disabled_accounts_tokens_stop_working(make_user: Any, bearer: Any) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    client = bearer((await new_token(host, "rooms:write"))["token"])
    assert (await client.post("/api/v1/rooms", json=ROOM)).status_code == 201
    assert (await owner.client.post(f"/api/v1/users/{host.user.id}/disable")).status_code == 200
    refused = await client.post("/api/v1/rooms", json=ROOM)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token.invalid"


async def test_a_hosts_token_cannot_touch_another_hosts_room(make_user: Any, bearer: Any) -> None:
    alice, bob = await make_user(Role.HOST), await make_user(Role.HOST)
    room = (await alice.client.post("/api/v1/rooms", json=ROOM)).json()
    client = bearer((await new_token(bob, "rooms:write"))["token"])
    response = await client.post(f"/api/v1/rooms/{room['id']}/transitions", json={"to": "live"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "room.not_host"


@pytest.mark.parametrize(
    "header",
    ["Bearer kct_not-a-real-token", "Bearer something-else", "Bearer ", "bearer kct_" + "x" * 200],
)
async def test_garbage_tokens_are_401(make_user: Any, client_factory: Any, header: str) -> None:
    client = client_factory(with_csrf=False)
    response = await client.post("/api/v1/rooms", json=ROOM, headers={"authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token.invalid"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_revoked_and_expired_tokens_are_401(make_user: Any, bearer: Any, ctx: Any) -> None:
    host = await make_user(Role.HOST)
    revoked, expired = await new_token(host, "rooms:write"), await new_token(host, "rooms:write", expires_in_days=1)
    gone = await host.client.delete(f"/api/v1/tokens/{revoked['id']}")
    assert gone.status_code == 200 and gone.json()["state"] == "revoked"
    async with ctx.db.session() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.execute(update(ApiToken).where(ApiToken.id == expired["id"]).values(expires_at=past))
        await session.commit()
    for token, code in ((revoked["token"], "token.revoked"), (expired["token"], "token.expired")):
        response = await bearer(token).post("/api/v1/rooms", json=ROOM)
        assert response.status_code == 401 and response.json()["error"]["code"] == code
    states = {t["id"]: t["state"] for t in (await host.client.get("/api/v1/tokens")).json()}
    assert states == {revoked["id"]: "revoked", expired["id"]: "expired"}


async def test_a_bad_bearer_never_falls_back_to_the_cookie(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    response = await host.client.post("/api/v1/rooms", json=ROOM, headers={"authorization": "Bearer kct_nope"})
    assert response.status_code == 401


async def test_cookie_sessions_still_need_csrf(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    del host.client.headers["x-csrf-token"]
    response = await host.client.post("/api/v1/rooms", json=ROOM)
    assert response.status_code == 403 and response.json()["error"]["code"] == "auth.csrf_failed"


async def test_public_routes_treat_a_token_as_anonymous_and_pages_ignore_it(make_user: Any, bearer: Any) -> None:
    owner = await make_user(Role.OWNER)
    client = bearer((await new_token(owner, "rooms:read"))["token"])
    assert (await client.get("/api/v1/rooms")).status_code == 200
    page = await client.get("/studio", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")


async def test_last_used_time_is_recorded(make_user: Any, bearer: Any, ctx: Any) -> None:
    host = await make_user(Role.HOST)
    created = await new_token(host, "rooms:write")
    assert created["last_used_at"] is None
    await bearer(created["token"]).post("/api/v1/rooms", json=ROOM)
    async with ctx.db.session() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.id == created["id"]))
    assert row is not None and row.last_used_at is not None


async def test_scopes_are_limited_by_role(make_user: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user(Role.VIEWER)
    assert (await host.client.get("/api/v1/tokens/scopes")).json() == [
        "rooms:read",
        "rooms:write",
        "rooms:stream_key",
        "analytics:read",
    ]
    refused = await host.client.post("/api/v1/tokens", json={"name": "x", "scopes": ["orders:read"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "token.scope_not_allowed"
    nope = await viewer.client.post("/api/v1/tokens", json={"name": "x", "scopes": ["rooms:read"]})
    assert nope.status_code == 403 and nope.json()["error"]["code"] == "auth.forbidden"


async def test_owner_sees_and_revokes_every_token_hosts_only_their_own(make_user: Any) -> None:
    owner, host, other = await make_user(Role.OWNER), await make_user(Role.HOST), await make_user(Role.HOST)
    mine = await new_token(host, "rooms:read")
    theirs = await new_token(other, "rooms:read")
    assert [t["id"] for t in (await host.client.get("/api/v1/tokens")).json()] == [mine["id"]]
    assert {t["id"] for t in (await owner.client.get("/api/v1/tokens")).json()} == {mine["id"], theirs["id"]}
    stranger = await host.client.delete(f"/api/v1/tokens/{theirs['id']}")
    assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "token.not_found"
    assert (await owner.client.delete(f"/api/v1/tokens/{theirs['id']}")).json()["state"] == "revoked"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["rooms:fly"]},
        {"name": "x", "scopes": []},
        {"name": "   ", "scopes": ["rooms:read"]},
        {"name": "x" * 65, "scopes": ["rooms:read"]},
        {"name": "x", "scopes": ["rooms:read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["rooms:read"], "expires_in_days": 99999},
        {"name": "x", "scopes": "rooms:read"},
        {"scopes": ["rooms:read"]},
    ],
)
async def test_bad_token_requests_get_codes(make_user: Any, body: dict[str, Any]) -> None:
    host = await make_user(Role.HOST)
    response = await host.client.post("/api/v1/tokens", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "request.invalid"


async def test_revoking_a_missing_or_absurd_id(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    assert (await host.client.delete("/api/v1/tokens/424242")).json()["error"]["code"] == "token.not_found"
    assert (await host.client.delete("/api/v1/tokens/0")).status_code == 422
    assert (await host.client.delete("/api/v1/tokens/99999999999999999999999")).status_code == 422


def test_room_routes_name_their_scopes(app: Any) -> None:
    from tests.routing import api_routes

    scopes = {}
    for path, route in api_routes(app):
        if route.endpoint.__module__ != "knowcast.rooms.routes":
            continue
        for dep in route.dependant.dependencies:
            if hasattr(dep.call, "scope"):
                scopes[(min(route.methods), path)] = dep.call.scope
    assert scopes == {
        ("POST", "/api/v1/rooms"): "rooms:write",
        ("GET", "/api/v1/rooms/{room_id}/private"): "rooms:read",
        ("PATCH", "/api/v1/rooms/{room_id}"): "rooms:write",
        ("POST", "/api/v1/rooms/{room_id}/cover"): "rooms:write",
        ("POST", "/api/v1/rooms/{room_id}/transitions"): "rooms:write",
        ("POST", "/api/v1/rooms/{room_id}/stream-key"): "rooms:stream_key",
    }


async def test_tokens_never_reach_the_logs(make_user: Any, bearer: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    host = await make_user(Role.HOST)
    token = (await new_token(host, "rooms:write"))["token"]
    assert (await bearer(token).post("/api/v1/rooms", json=ROOM)).status_code == 201
    assert (await bearer(token + "x").post("/api/v1/rooms", json=ROOM)).status_code == 401
    assert caplog.records  # the access log did run
    assert all(token[10:] not in repr(record.__dict__) for record in caplog.records)
