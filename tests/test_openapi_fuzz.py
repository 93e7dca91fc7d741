"""schemathesis against /api/v1/openapi.json: generated requests, as a signed-in owner, against a real server.

No response may be a server error, and every response must match the schema the document declares for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, create_user, start_server

# calls that would end the fuzzer's own session or account midway
SKIPPED = {("POST", "/api/v1/auth/signout"), ("DELETE", "/api/v1/auth/me"), ("POST", "/api/v1/auth/password")}
EXAMPLES = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("fuzz"))
    yield live
    live.stop()


def owner_session(server: LiveServer) -> tuple[dict[str, str], dict[str, str]]:
    create_user(server, "fuzz-owner@example.com", "owner")
    with httpx.Client(base_url=server.url) as client:
        client.get("/")
        token = client.cookies["kc_csrf"]
        from knowcast import csrf
        from tests.live_server import SECRET

        headers = {"x-csrf-token": csrf.token_for(SECRET, token)}
        signin = client.post(
            "/api/v1/auth/signin",
            json={"email": "fuzz-owner@example.com", "password": "correct horse battery"},
            headers=headers,
        )
        signin.raise_for_status()
        room = {"title": "fuzz room", "scheduled_at": "2030-01-01T10:00:00+08:00"}
        client.post("/api/v1/rooms", json=room, headers=headers).raise_for_status()
        return dict(client.cookies), headers


def test_no_server_error_and_no_schema_violation(server: LiveServer, tmp_path: Path) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    cookies, headers = owner_session(server)
    # the live document, so every route anyone adds is fuzzed without touching this file
    document = httpx.get(server.url + "/api/v1/openapi.json", timeout=60).json()
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    checked: set[tuple[str, str]] = set()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # an operation schemathesis cannot read fails the test here
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=server.url,
                headers=headers,
                cookies=cookies,
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )

        try:
            run()
        except BaseException as exc:  # schemathesis raises exception groups; collect them all, then report
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
        checked.add((operation.method.upper(), operation.path))
    assert listed - SKIPPED == checked, sorted((listed - SKIPPED) ^ checked)  # every listed operation was fuzzed
    assert failures == [], "\n\n".join(failures) + "\n\nserver log:\n" + server.log()[-3000:]


async def test_the_document_lists_every_api_route(app: Any) -> None:
    """What the fuzzer reads is complete: every /api/ route of the app (bar those kept out of the document on
    purpose) is an operation in /api/v1/openapi.json."""
    from tests.routing import api_routes

    document = app.openapi()
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    routes = {
        (method, path)
        for path, route in api_routes(app)
        if path.startswith("/api/") and route.include_in_schema
        for method in route.methods
        if method != "HEAD"
    }
    assert routes - listed == set()
