"""Every route declares who may call it, and each role gets what the table below says."""

from __future__ import annotations

from typing import Any

from fastapi.dependencies.models import Dependant

from knowcast.accounts.models import Role
from knowcast.deps import machine, public
from tests.routing import api_routes


def _guards(dependant: Dependant) -> list[str]:
    found = []
    for dep in dependant.dependencies:
        if dep.call is public:
            found.append("public")
        elif dep.call is machine:
            found.append("machine")
        elif hasattr(dep.call, "permission"):
            found.append(str(dep.call.permission))
        found.extend(_guards(dep))
    return found


def test_every_route_declares_its_access(app: Any) -> None:
    routes = api_routes(app)
    assert len(routes) > 30
    unguarded = [f"{sorted(route.methods)} {path}" for path, route in routes if len(_guards(route.dependant)) != 1]
    assert unguarded == []


# (method, path, anonymous, viewer, moderator, host, owner) → expected status for a request with an empty body
MATRIX = [
    ("GET", "/api/v1/rooms", 200, 200, 200, 200, 200),
    ("GET", "/api/v1/auth/me", 401, 200, 200, 200, 200),
    ("GET", "/api/v1/users", 401, 403, 403, 403, 200),
    ("POST", "/api/v1/rooms", 401, 403, 403, 422, 422),
    ("GET", "/studio", 303, 403, 403, 200, 200),
    ("GET", "/studio/rooms/new", 303, 403, 403, 200, 200),
    ("GET", "/account", 303, 200, 200, 200, 200),
    ("GET", "/", 200, 200, 200, 200, 200),
]


async def test_permission_matrix(client: Any, make_user: Any) -> None:
    callers = [client] + [
        (await make_user(role)).client for role in (Role.VIEWER, Role.MODERATOR, Role.HOST, Role.OWNER)
    ]
    for method, path, *expected in MATRIX:
        got = [(await c.request(method, path, json={} if method == "POST" else None)).status_code for c in callers]
        assert got == expected, (method, path)
