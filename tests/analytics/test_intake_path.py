"""The browser event intake ahead of the app (issue 16, point 2: no per-request work that does not depend on
the request) answers as the FastAPI route does: the same counts for a good batch, anonymous or signed in,
and the route's own errors for a bad token, a bad body or a form."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.analytics.intake_path import MAX_BODY, IntakeFastPath
from tests.analytics.conftest import Stage
from tests.conftest import Member


async def _route_answers(_self: IntakeFastPath, _scope: Any, _headers: Any, _raw: bytes) -> None:
    return None  # the fast path steps aside: the FastAPI route (the reference) answers


def _batch(room_id: int, kind: str = "view_start") -> dict[str, Any]:
    return {"events": [{"kind": kind, "room_id": room_id, "view_id": secrets.token_urlsafe(12)}]}


async def test_both_paths_count_a_view_alike(
    stage: Stage, client: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stage.go_live()
    viewer: Member = await make_user(Role.VIEWER)
    for who in (client, viewer.client):
        fast = await who.post("/api/v1/analytics/events", json=_batch(stage.room_id))
        with monkeypatch.context() as patched:
            patched.setattr(IntakeFastPath, "_answer", _route_answers)
            slow = await who.post("/api/v1/analytics/events", json=_batch(stage.room_id))
        assert fast.status_code == slow.status_code == 202
        assert fast.json() == slow.json() == {"accepted": 1, "rejected": 0, "reasons": {}}
        assert fast.headers["x-content-type-options"] == "nosniff"
    await stage.flush()
    assert (await stage.live())["pv"] == 4  # every view counted, whichever path took it


async def test_what_the_fast_path_does_not_take_gets_the_routes_answer(stage: Stage, client_factory: Any) -> None:
    no_token = client_factory(with_csrf=False)
    refused = await no_token.post("/api/v1/analytics/events", json=_batch(stage.room_id))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.csrf_failed"
    client = client_factory()
    bad = await client.post("/api/v1/analytics/events", json={"events": []})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "request.invalid"
    broken = await client.post(
        "/api/v1/analytics/events", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code in (400, 422)
    forbidden = await client.post("/api/v1/analytics/events", json=_batch(stage.room_id, kind="purchase"))
    assert forbidden.status_code == 202 and forbidden.json()["reasons"] == {"kind.forbidden": 1}


async def test_a_large_batch_is_answered_whole_or_streamed(stage: Stage, client_factory: Any) -> None:
    """A batch past the fast path's own cap, sent at once or in pieces, is answered, never left waiting (the
    fuzzer's 7 KB batch once hung: the fast path had read part of it and handed the route the rest only)."""
    await stage.go_live()
    client = client_factory()

    def large() -> bytes:
        referrer = "https://example.com/" + "a" * 1900
        events = [{**_batch(stage.room_id)["events"][0], "referrer": referrer} for _ in range(50)]
        return json.dumps({"events": events}).encode()

    raw = large()
    assert len(raw) > MAX_BODY
    whole = await client.post("/api/v1/analytics/events", content=raw, headers={"content-type": "application/json"})
    assert whole.status_code == 202 and whole.json()["accepted"] == 50

    async def pieces(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4000):
            yield body[start : start + 4000]

    streamed = await client.post(
        "/api/v1/analytics/events", content=pieces(large()), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 202 and streamed.json()["accepted"] == 50
    huge = await client.post(
        "/api/v1/analytics/events", content=pieces(raw * 12), headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request.too_large"
