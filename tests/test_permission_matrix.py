"""Every route, called as anonymous, viewer, moderator, host and owner, against the table in permission_table.py.

Each cell is what happened: ``A`` allowed (the call got past access control: 2xx, 3xx, 404, 409, 422, ...),
``S`` sent to sign in (401, or a page's redirect to /signin), ``F`` forbidden for the role (403). The calls are made
with a valid CSRF token and empty bodies; room ids point at a room the host owns, so ownership checks pass, and
other ids at nothing. Routes whose rights depend on the room (per-room moderators, guests) check them inside the
handler, after the body is validated, so an empty body shows them as A for everyone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from knowcast.accounts.models import Role
from tests.permission_table import EXPECTED
from tests.routing import api_routes

ROLES = (None, Role.VIEWER, Role.MODERATOR, Role.HOST, Role.OWNER)


def outcome(response: Any) -> str:
    if response.status_code == 401 and _code(response) in ("auth.required", None):
        return "S"
    if response.status_code in (302, 303, 307) and "/signin" in response.headers.get("location", ""):
        return "S"
    if response.status_code == 403:
        return "F"
    return "A"


def _code(response: Any) -> str | None:
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        return body.get("error", {}).get("code") if isinstance(body, dict) else None
    found = re.search(r'data-code="([^"]+)"', response.text)
    return found.group(1) if found else None


def concrete(path: str, room_id: int) -> str:
    """Room ids point at the host's room; every other id at nothing (so no sweep call touches a real account)."""
    path = path.replace("{room_id}", str(room_id))
    return re.sub(r"\{[^}]+\}", "999999", path)


async def observed(app: Any, client: Any, make_user: Any) -> dict[str, str]:
    members = {role: await make_user(role) for role in ROLES if role is not None}
    host = members[Role.HOST]
    room = await host.client.post(
        "/api/v1/rooms", json={"title": "matrix", "scheduled_at": "2030-01-01T10:00:00+08:00"}
    )
    room_id = room.json()["id"]
    callers = [client] + [members[role].client for role in ROLES if role is not None]
    table: dict[str, str] = {}
    for path, route in sorted(api_routes(app), key=lambda pair: pair[0]):
        if "websocket" in type(route).__name__.lower():
            continue
        for method in sorted(route.methods - {"HEAD"}):
            if (method, path) in DESTRUCTIVE:
                continue
            cells = ""
            for caller in callers:
                body = {} if method in ("POST", "PUT", "PATCH", "DELETE") else None
                response = await caller.request(method, concrete(path, room_id), json=body)
                assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
                cells += outcome(response)
            table[f"{method} {path}"] = cells
    return table


# calls that would end a caller's session midway through the sweep
DESTRUCTIVE = {("POST", "/api/v1/auth/signout"), ("POST", "/signout"), ("DELETE", "/api/v1/auth/me")}


async def test_every_route_matches_the_permission_table(app: Any, client: Any, make_user: Any) -> None:
    """After adding routes, KNOWCAST_WRITE_PERMISSION_TABLE=1 rewrites the table; review its diff like code."""
    table = await observed(app, client, make_user)
    if os.environ.get("KNOWCAST_WRITE_PERMISSION_TABLE") == "1":
        write_table(table)
        pytest.skip("permission_table.py rewritten; review the diff")
    missing = sorted(set(table) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(table))
    wrong = {
        route: (EXPECTED[route], got) for route, got in table.items() if route in EXPECTED and EXPECTED[route] != got
    }
    assert (missing, stale, wrong) == ([], [], {})


def write_table(table: dict[str, str]) -> None:
    path = Path(__file__).with_name("permission_table.py")
    head = path.read_text(encoding="utf-8").split("EXPECTED", 1)[0]
    rows = "".join(f'    "{route}": "{cells}",\n' for route, cells in sorted(table.items()))
    path.write_text(f"{head}EXPECTED: dict[str, str] = {{\n{rows}}}\n", encoding="utf-8")
