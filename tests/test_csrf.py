"""CSRF: every state-changing route refuses a request without the token that matches the browser's cookie."""

from __future__ import annotations

import re

import pytest

from knowcast import csrf
from knowcast.accounts.models import Role
from knowcast.deps import machine
from tests.conftest import SECRET, Client
from tests.routing import api_routes

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def state_changing_routes(app: object) -> list[tuple[str, str]]:
    routes = []
    for path, route in api_routes(app):
        if any(dep.call is machine for dep in route.dependant.dependencies):
            continue  # server-to-server hooks: no cookie, so no CSRF; they check their own signatures
        for method in route.methods & UNSAFE:
            routes.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return sorted(routes)


async def test_every_state_changing_route_needs_the_token(app: object, make_user: object) -> None:
    """Called by a signed-in owner (who passes every permission check) without a token: always 403 csrf."""
    owner = await make_user(Role.OWNER)  # type: ignore[operator]
    del owner.client.headers["x-csrf-token"]
    checked = 0
    for method, path in state_changing_routes(app):
        response = await owner.client.request(method, path, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert "csrf" in response.text, (method, path)
        checked += 1
    assert checked == len(state_changing_routes(app))


async def test_wrong_token_is_refused_on_json_calls(make_user: object) -> None:
    owner = await make_user(Role.OWNER)  # type: ignore[operator]
    owner.client.headers["x-csrf-token"] = csrf.token_for(SECRET, "another-browsers-nonce")
    response = await owner.client.post("/api/v1/auth/signout")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.csrf_failed"


async def test_form_without_token_gets_a_friendly_page(client_factory: object) -> None:
    client: Client = client_factory(with_csrf=False)  # type: ignore[operator]
    response = await client.post("/signin", data={"email": "a@example.com", "password": "whatever1"})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert 'data-code="auth.csrf_failed"' in response.text


async def test_form_with_the_page_token_is_accepted(client_factory: object, make_user: object) -> None:
    member = await make_user()  # type: ignore[operator]
    client: Client = client_factory(with_csrf=False)  # type: ignore[operator]
    page = await client.get("/signin")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post(
        "/signin", data={"csrf_token": token, "email": member.user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 303


@pytest.mark.parametrize("token", ["", "0" * 64])
async def test_token_from_no_cookie_is_refused(client_factory: object, token: str) -> None:
    client: Client = client_factory(with_csrf=False)  # type: ignore[operator]
    response = await client.post(
        "/api/v1/auth/signin", json={"email": "a@example.com", "password": "x"}, headers={"x-csrf-token": token}
    )
    assert response.status_code == 403


async def test_a_token_with_non_ascii_characters_is_refused_not_a_crash(make_user: object) -> None:
    owner = await make_user(Role.OWNER)  # type: ignore[operator]
    response = await owner.client.post("/api/v1/auth/signout", headers={"x-csrf-token": "tökén".encode("latin-1")})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.csrf_failed"
