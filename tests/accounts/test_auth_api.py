"""Sign-up, sign-in, sign-out, passwords, sessions and roles through the JSON API."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from knowcast.accounts.models import Role, User
from knowcast.accounts.throttle import SignInThrottle
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from tests.conftest import PASSWORD, Client

NEW = {"email": "Learner@Example.com", "password": "a long password", "display_name": "小明"}


async def test_sign_up_signs_in_and_stores_an_argon2_hash(client: Client, ctx: AppContext) -> None:
    response = await client.post("/api/v1/auth/signup", json=NEW)
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "learner@example.com"
    assert body["user"]["role"] == "viewer"
    assert body["csrf_token"]
    assert (await client.get("/api/v1/auth/me")).json()["user"]["display_name"] == "小明"
    async with ctx.db.session() as session:
        user = await session.scalar(select(User))
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert "a long password" not in user.password_hash


async def test_session_cookie_is_httponly_and_lax(client: Client) -> None:
    response = await client.post("/api/v1/auth/signup", json=NEW)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; see test_session_cookie_is_secure_behind_https


async def test_session_cookie_is_secure_behind_https(client: Client, ctx: AppContext) -> None:
    ctx.settings.public_url = "https://live.example.com"
    response = await client.post("/api/v1/auth/signup", json=NEW)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "Secure" in cookie


async def test_second_sign_up_with_the_same_email_is_refused(client_factory: object) -> None:
    first, second = client_factory(), client_factory()  # type: ignore[operator]
    assert (await first.post("/api/v1/auth/signup", json=NEW)).status_code == 201
    response = await second.post("/api/v1/auth/signup", json={**NEW, "email": "LEARNER@example.com"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "account.email_taken"


async def test_concurrent_sign_ups_with_one_email_make_one_account(client_factory: object, ctx: AppContext) -> None:
    clients = [client_factory() for _ in range(5)]  # type: ignore[operator]
    responses = await asyncio.gather(*(c.post("/api/v1/auth/signup", json=NEW) for c in clients))
    assert sorted(r.status_code for r in responses).count(201) == 1
    assert all(r.status_code in (201, 409) for r in responses)
    async with ctx.db.session() as session:
        assert len((await session.scalars(select(User))).all()) == 1


async def test_sign_in_and_sign_out(client: Client, make_user: object) -> None:
    member = await make_user()  # type: ignore[operator]
    response = await client.post("/api/v1/auth/signin", json={"email": member.user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    assert (await client.post("/api/v1/auth/signout")).status_code == 204
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "auth.required"


async def test_wrong_password_and_unknown_email_look_the_same(client: Client, make_user: object) -> None:
    member = await make_user()  # type: ignore[operator]
    wrong = await client.post("/api/v1/auth/signin", json={"email": member.user.email, "password": "nope nope"})
    unknown = await client.post("/api/v1/auth/signin", json={"email": "ghost@example.com", "password": "nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "auth.invalid_credentials"


async def test_sign_in_is_rate_limited_per_account(client_factory: object, make_user: object, ctx: AppContext) -> None:
    member = await make_user()  # type: ignore[operator]
    limit = ctx.settings.login_attempts_per_account
    for n in range(limit):
        client = client_factory()  # type: ignore[operator]
        response = await client.post("/api/v1/auth/signin", json={"email": member.user.email, "password": f"bad {n}"})
        assert response.status_code == 401
    blocked = await client_factory().post(  # type: ignore[operator]
        "/api/v1/auth/signin", json={"email": member.user.email, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "auth.signin_rate_limited"
    assert int(blocked.headers["retry-after"]) >= 1


async def test_sign_in_is_rate_limited_per_address(client: Client, ctx: AppContext) -> None:
    ctx.runtime(SignInThrottle).address.limit = 3
    for n in range(3):
        response = await client.post("/api/v1/auth/signin", json={"email": f"u{n}@example.com", "password": "bad pass"})
        assert response.status_code == 401
    response = await client.post("/api/v1/auth/signin", json={"email": "other@example.com", "password": "bad pass"})
    assert response.status_code == 429


async def test_change_password_ends_every_other_session(client_factory: object, make_user: object) -> None:
    member = await make_user()  # type: ignore[operator]
    other_device = client_factory()  # type: ignore[operator]
    await other_device.post("/api/v1/auth/signin", json={"email": member.user.email, "password": PASSWORD})
    assert (await other_device.get("/api/v1/auth/me")).status_code == 200
    change = {"current_password": PASSWORD, "new_password": "a brand new secret"}
    assert (await member.client.post("/api/v1/auth/password", json=change)).status_code == 200
    assert (await member.client.get("/api/v1/auth/me")).status_code == 200  # the changing browser stays in
    assert (await other_device.get("/api/v1/auth/me")).status_code == 401
    again = await other_device.post("/api/v1/auth/signin", json={"email": member.user.email, "password": PASSWORD})
    assert again.status_code == 401


async def test_change_password_needs_the_current_one(make_user: object) -> None:
    member = await make_user()  # type: ignore[operator]
    response = await member.client.post(
        "/api/v1/auth/password", json={"current_password": "not it", "new_password": "a brand new secret"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["fields"] == {"current_password": "wrong"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**NEW, "email": "not-an-email"}, "email"),
        ({**NEW, "password": "short"}, "password"),
        ({**NEW, "display_name": "   "}, "display_name"),
        ({**NEW, "display_name": 123}, "display_name"),
    ],
)
async def test_sign_up_validation_names_the_field(client: Client, payload: dict[str, object], field: str) -> None:
    response = await client.post("/api/v1/auth/signup", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid"
    assert field in response.json()["error"]["fields"]


async def test_owner_changes_roles_and_others_cannot(make_user: object) -> None:
    owner = await make_user(Role.OWNER)  # type: ignore[operator]
    viewer = await make_user(Role.VIEWER)  # type: ignore[operator]
    forbidden = await viewer.client.patch(f"/api/v1/users/{viewer.user.id}/role", json={"role": "owner"})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "auth.forbidden"
    promoted = await owner.client.patch(f"/api/v1/users/{viewer.user.id}/role", json={"role": "host"})
    assert promoted.json()["role"] == "host"
    assert (await owner.client.patch("/api/v1/users/99999/role", json={"role": "host"})).status_code == 404
    self_demote = await owner.client.patch(f"/api/v1/users/{owner.user.id}/role", json={"role": "viewer"})
    assert self_demote.json()["error"]["code"] == "account.self_demotion"


async def test_disabled_account_cannot_sign_in(client: Client, make_user: object, ctx: AppContext) -> None:
    member = await make_user()  # type: ignore[operator]
    async with ctx.db.session() as session:
        user = await session.get(User, member.user.id)
        assert user is not None
        user.is_active = False
        await session.commit()
    assert (await member.client.get("/api/v1/auth/me")).status_code == 401
    response = await client.post("/api/v1/auth/signin", json={"email": member.user.email, "password": PASSWORD})
    assert response.json()["error"]["code"] == "account.disabled"
