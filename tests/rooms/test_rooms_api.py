"""Rooms through the JSON API: create, edit, schedule, the state machine, stream keys, covers, the channel."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from knowcast.accounts.models import Role

WHEN = (datetime.now(UTC) + timedelta(days=1)).isoformat()
ROOM = {"title": "Python 入门第一课", "description": "从零开始", "scheduled_at": WHEN}


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, minimal PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


async def make_room(host: Any, **changes: Any) -> dict[str, Any]:
    response = await host.client.post("/api/v1/rooms", json={**ROOM, **changes})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_host_creates_a_room_with_a_stream_key(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host, access_mode="ticket")
    assert room["state"] == "scheduled"
    assert room["access_mode"] == "ticket"
    assert room["host_id"] == host.user.id
    assert room["stream_key"].startswith("kc_") and len(room["stream_key"]) > 20
    assert room["ingest_url"].startswith("rtmp://")


async def test_public_view_never_shows_the_stream_key(make_user: Any, client: Any) -> None:
    room = await make_room(await make_user(Role.HOST))
    public = (await client.get(f"/api/v1/rooms/{room['id']}")).json()
    assert "stream_key" not in public
    assert public["title"] == ROOM["title"]


async def test_edit_and_reschedule(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    later = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    response = await host.client.patch(
        f"/api/v1/rooms/{room['id']}", json={"title": "  新标题  ", "scheduled_at": later.isoformat()}
    )
    assert response.status_code == 200
    assert response.json()["title"] == "新标题"
    assert datetime.fromisoformat(response.json()["scheduled_at"]) == later


async def test_state_machine_moves_forward_only(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    url = f"/api/v1/rooms/{room['id']}/transitions"
    live = await host.client.post(url, json={"to": "live"})
    assert live.json()["state"] == "live" and live.json()["started_at"]
    again = await host.client.post(url, json={"to": "live"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "room.illegal_transition"
    assert again.json()["error"]["fields"] == {"state": "live", "to": "live"}
    ended = await host.client.post(url, json={"to": "ended"})
    assert ended.json()["state"] == "ended" and ended.json()["ended_at"]
    for target in ("live", "scheduled"):
        refused = await host.client.post(url, json={"to": target})
        assert refused.json()["error"]["code"] == "room.illegal_transition"
    edit = await host.client.patch(f"/api/v1/rooms/{room['id']}", json={"title": "late"})
    assert edit.json()["error"]["code"] == "room.ended"


async def test_unknown_target_state_is_a_validation_error(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    response = await host.client.post(f"/api/v1/rooms/{room['id']}/transitions", json={"to": "paused"})
    assert response.status_code == 422
    assert "to" in response.json()["error"]["fields"]


async def test_rotating_the_key_replaces_it(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    rotated = (await host.client.post(f"/api/v1/rooms/{room['id']}/stream-key")).json()
    assert rotated["stream_key"] != room["stream_key"]
    private = (await host.client.get(f"/api/v1/rooms/{room['id']}/private")).json()
    assert private["stream_key"] == rotated["stream_key"]


async def test_only_the_rooms_host_or_the_owner_manages_it(make_user: Any) -> None:
    host, other_host, owner = [await make_user(r) for r in (Role.HOST, Role.HOST, Role.OWNER)]
    room = await make_room(host)
    refused = await other_host.client.patch(f"/api/v1/rooms/{room['id']}", json={"title": "mine now"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "room.not_host"
    assert (await other_host.client.get(f"/api/v1/rooms/{room['id']}/private")).status_code == 403
    assert (await owner.client.patch(f"/api/v1/rooms/{room['id']}", json={"title": "owner edit"})).status_code == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MODERATOR])
async def test_viewers_and_moderators_cannot_call_host_routes(make_user: Any, role: Role) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    caller = await make_user(role)
    for method, path, body in [
        ("POST", "/api/v1/rooms", ROOM),
        ("PATCH", f"/api/v1/rooms/{room['id']}", {"title": "x"}),
        ("POST", f"/api/v1/rooms/{room['id']}/transitions", {"to": "live"}),
        ("POST", f"/api/v1/rooms/{room['id']}/stream-key", None),
        ("GET", f"/api/v1/rooms/{room['id']}/private", None),
    ]:
        response = await caller.client.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "auth.forbidden"


async def test_unknown_room_ids(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    assert (await client.get("/api/v1/rooms/424242")).json()["error"]["code"] == "room.not_found"
    assert (await host.client.patch("/api/v1/rooms/424242", json={"title": "x"})).status_code == 404
    assert (await client.get("/api/v1/rooms/not-a-number")).status_code == 422


async def test_cover_upload_checks_the_bytes(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    url = f"/api/v1/rooms/{room['id']}/cover"
    ok = await host.client.post(url, files={"cover": ("cover.png", png(), "image/png")})
    assert ok.status_code == 200
    cover_url = ok.json()["cover_url"]
    served = await client.get(cover_url)
    assert served.status_code == 200 and served.content == png()
    fake = await host.client.post(url, files={"cover": ("evil.png", b"<script>alert(1)</script>", "image/png")})
    assert fake.status_code == 422
    assert fake.json()["error"]["code"] == "room.cover_type"


async def test_cover_over_the_upload_limit_is_refused(make_user: Any, ctx: Any) -> None:
    ctx.settings.max_upload_bytes = 2048
    host = await make_user(Role.HOST)
    room = await make_room(host)
    big = png() + b"\x00" * 4096
    response = await host.client.post(f"/api/v1/rooms/{room['id']}/cover", files={"cover": ("c.png", big, "image/png")})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "room.cover_too_large"


async def test_channel_lists_live_upcoming_and_past(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    soon = await make_room(host, title="soon", scheduled_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    later = await make_room(host, title="later", scheduled_at=(datetime.now(UTC) + timedelta(days=2)).isoformat())
    live = await make_room(host, title="live")
    done = await make_room(host, title="done")
    await host.client.post(f"/api/v1/rooms/{live['id']}/transitions", json={"to": "live"})
    await host.client.post(f"/api/v1/rooms/{done['id']}/transitions", json={"to": "live"})
    await host.client.post(f"/api/v1/rooms/{done['id']}/transitions", json={"to": "ended"})
    channel = (await client.get("/api/v1/rooms")).json()
    assert [r["title"] for r in channel["live"]] == ["live"]
    assert [r["title"] for r in channel["upcoming"]] == ["soon", "later"]
    assert [r["title"] for r in channel["past"]] == ["done"]
    assert soon["id"] != later["id"]


@pytest.mark.parametrize(
    "changes",
    [
        {"title": ""},
        {"title": "x" * 121},
        {"scheduled_at": "tomorrow"},
        {"scheduled_at": "2026-12-01T10:00:00"},  # no time zone: refused rather than guessed
        {"access_mode": "vip"},
        {"description": "d" * 5001},
        {"title": ["not", "text"]},
    ],
)
async def test_bad_room_input_is_refused_with_fields(make_user: Any, changes: dict[str, Any]) -> None:
    host = await make_user(Role.HOST)
    response = await host.client.post("/api/v1/rooms", json={**ROOM, **changes})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) & set(changes)
