"""Bad input gets a clear error with a stable code, never a raw 500."""

from __future__ import annotations

from typing import Any

import pytest

from knowcast.accounts.models import Role


async def test_malformed_json(client: Any) -> None:
    response = await client.post(
        "/api/v1/auth/signup", content=b'{"email": "a@b.c", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid_json"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b"42"])
async def test_json_of_the_wrong_shape(client: Any, body: bytes) -> None:
    response = await client.post("/api/v1/auth/signin", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] in ("request.invalid", "request.invalid_json")


async def test_wrong_types(client: Any) -> None:
    response = await client.post("/api/v1/auth/signin", json={"email": ["a"], "password": {"x": 1}})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"email", "password"}


async def test_oversized_body_announced_by_content_length(client: Any, ctx: Any) -> None:
    limit = ctx.settings.max_body_bytes
    response = await client.post(
        "/api/v1/auth/signin", content=b"x" * (limit + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request.too_large"


async def test_oversized_body_streamed_without_length(client: Any, ctx: Any) -> None:
    limit = ctx.settings.max_body_bytes

    async def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = await client.post("/api/v1/auth/signin", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request.too_large"


async def test_unknown_api_path_and_method(client: Any) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = await client.delete("/api/v1/rooms")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "request.method_not_allowed"


async def test_huge_and_negative_ids(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    # 2**31 and 2**62 fit a 64-bit integer but not PostgreSQL's INTEGER row ids: refused, never a 500
    for room_id in ("-1", "0", str(2**31), str(2**62), str(2**70)):
        response = await client.get(f"/api/v1/rooms/{room_id}")
        assert response.status_code in (404, 422), room_id
        assert "error" in response.json()
    assert (await host.client.post(f"/api/v1/rooms/{2**70}/transitions", json={"to": "live"})).status_code in (404, 422)


async def test_garbage_cookies_are_ignored(client: Any) -> None:
    response = await client.get("/", headers={"cookie": 'kc_session="\\x00; ;;; =broken; kc_csrf'})
    assert response.status_code == 200


async def test_an_unexpected_failure_is_a_logged_json_error_not_a_traceback(client: Any, ctx: Any) -> None:
    async def broken() -> None:
        raise RuntimeError("database exploded")

    ctx.db.ping = broken
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
