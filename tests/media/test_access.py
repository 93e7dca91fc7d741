"""A ticketed room's video is not public: playlists need the room's access rule, segments a signed token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from knowcast.accounts.models import Role
from knowcast.media import access
from tests.conftest import SECRET
from tests.media.conftest import eventually, room_state


async def test_a_ticketed_rooms_media_needs_access_or_a_signed_token(
    client: Any, make_user: Any, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room(access_mode="ticket")
    await publish(room.stream_key, sample_flv)

    async def live() -> bool:
        return await room_state(client, room.id) == "live"

    await eventually(live, what="the ticketed room to go live")
    url = f"/media/rooms/{room.id}/live.m3u8"
    assert (await client.get(url)).status_code == 401
    viewer = await make_user(Role.VIEWER)
    refused = await viewer.client.get(url, headers={"accept": "application/json"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "room.ticket_required"

    allowed = await room.host.client.get(url)
    assert allowed.status_code == 200
    assert "private" in allowed.headers["cache-control"]
    segment_uri = next(line for line in allowed.text.splitlines() if line and not line.startswith("#"))
    assert re.search(r"\?t=\d+\.[0-9a-f]{32}$", segment_uri)

    segment = await client.get(f"/media/rooms/{room.id}/{segment_uri}")  # anonymous, but holding the token
    assert segment.status_code == 200
    assert segment.headers["cache-control"].startswith("private")
    bare = segment_uri.split("?", 1)[0]
    assert (await client.get(f"/media/rooms/{room.id}/{bare}")).status_code == 401
    forged = segment_uri[:-1] + ("0" if segment_uri[-1] != "0" else "1")
    assert (await client.get(f"/media/rooms/{room.id}/{forged}")).status_code == 401
    other_room = access.sign(SECRET, room.id + 1, 4_000_000_000)
    assert (await client.get(f"/media/rooms/{room.id}/{bare}?t={other_room}")).status_code == 401

    status = (await viewer.client.get(f"/api/v1/media/rooms/{room.id}/status")).json()
    assert status["stream_url"] is None and status["locked"] == "room.ticket_required"
    assert status["webrtc_url"] is None
    host_status = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/status")).json()
    assert host_status["stream_url"].startswith(f"/media/rooms/{room.id}/live.m3u8?t=")
    # WebRTC viewing (WHEP) is offered under the same rule: a signed token for a room that is not public
    token = host_status["webrtc_url"].removeprefix(f"/whep/rooms/{room.id}?t=")
    assert access.token_valid(SECRET, room.id, token)


def test_tokens_expire() -> None:
    token = access.new_token(SECRET, 7, ttl_seconds=60, now=1000)
    assert access.token_valid(SECRET, 7, token, now=1059)
    assert not access.token_valid(SECRET, 7, token, now=1061)
    assert not access.token_valid(SECRET, 8, token, now=1000)
    assert not access.token_valid("another-secret", 7, token, now=1000)
    for junk in ("", "abc", "1.2.3", "99999999999.zz", None):
        assert not access.token_valid(SECRET, 7, junk, now=1000)


async def test_bad_media_paths_are_404_not_500(client: Any, make_room: Any) -> None:
    room = await make_room()
    for path in (
        f"/media/rooms/{room.id}/live.m3u8",
        f"/media/rooms/{room.id}/src/seg_000001.ts",
        f"/media/rooms/{room.id}/..%2F..%2Fetc/passwd",
        f"/media/rooms/{room.id}/src/..%2F..%2Fvariants.json",
        f"/media/rooms/{room.id}/SRC/seg_000001.ts",
        "/media/rooms/999999/live.m3u8",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
    assert (await client.get("/media/rooms/not-a-number/live.m3u8")).status_code == 422
