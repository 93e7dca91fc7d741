"""External media-server hooks. The request shapes for SRS (``http_hooks``) and MediaMTX (``authHTTPAddress``)
are copied from their documentation, because neither server can be installed here; nginx-rtmp's form POST
is also exercised for real in test_nginx_rtmp.py."""

from __future__ import annotations

from typing import Any

import pytest

from knowcast.settings import Settings
from tests.media.conftest import room_state

HOOK = "hook-secret-for-tests"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "ingest": "external",
            "media_hook_secret": HOOK,
            "media_reconnect_grace_seconds": 0.2,
            "media_playback_url": "https://cdn.example.com/hls/room-{room_id}/index.m3u8?t={token}",
        }
    )


def srs_body(action: str, stream: str, param: str = "") -> dict[str, Any]:
    """As in SRS's HTTP callback documentation (v5): JSON with action, client_id, ip, vhost, app, stream, param."""
    return {
        "server_id": "vid-0xk989d",
        "action": action,
        "client_id": "341w361a",
        "ip": "127.0.0.1",
        "vhost": "__defaultVhost__",
        "app": "live",
        "tcUrl": "rtmp://127.0.0.1:1935/live",
        "stream": stream,
        "param": param,
        "stream_url": f"/live/{stream}",
        "stream_id": "vid-124q9y3",
    }


def mediamtx_body(action: str, path: str, query: str = "", protocol: str = "rtmp") -> dict[str, Any]:
    """As in mediamtx.yml's documentation of authHTTPAddress: user, password, token, ip, action, path, protocol,
    id, query."""
    return {
        "user": "",
        "password": "",
        "token": "",
        "ip": "127.0.0.1",
        "action": action,
        "path": path,
        "protocol": protocol,
        "id": None,
        "query": query,
    }


async def test_hooks_need_the_shared_secret(client: Any, make_room: Any) -> None:
    room = await make_room()
    for secret in ("", "?secret=wrong"):
        response = await client.post(f"/api/v1/media/hooks/srs{secret}", json=srs_body("on_publish", room.stream_key))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "media.hook_secret"
    assert await room_state(client, room.id) == "scheduled"


async def test_srs_publish_and_unpublish(client: Any, make_room: Any) -> None:
    room = await make_room()
    url = f"/api/v1/media/hooks/srs?secret={HOOK}"
    refused = await client.post(url, json=srs_body("on_publish", "kc_wrong"))
    assert refused.status_code != 200 and refused.json()["code"] != 0
    accepted = await client.post(url, json=srs_body("on_publish", f"room-{room.id}", f"?key={room.stream_key}"))
    assert accepted.status_code == 200 and accepted.json()["code"] == 0
    assert await room_state(client, room.id) == "live"
    status = (await client.get(f"/api/v1/media/rooms/{room.id}/status")).json()
    assert status["stream_url"] == f"https://cdn.example.com/hls/room-{room.id}/index.m3u8?t="
    assert (await client.post(url, json=srs_body("on_play", f"room-{room.id}"))).json()["code"] == 0
    done = await client.post(url, json=srs_body("on_unpublish", f"room-{room.id}"))
    assert done.status_code == 200
    assert await room_state(client, room.id) == "reconnecting"


async def test_mediamtx_publish_read_and_not_ready(client: Any, make_room: Any) -> None:
    room = await make_room()
    url = f"/api/v1/media/hooks/mediamtx/auth?secret={HOOK}"
    refused = await client.post(url, json=mediamtx_body("publish", "live/kc_wrong"))
    assert refused.status_code == 404
    ok = await client.post(url, json=mediamtx_body("publish", f"live/room-{room.id}", f"key={room.stream_key}"))
    assert ok.status_code == 204
    assert await room_state(client, room.id) == "live"
    read = await client.post(url, json=mediamtx_body("read", f"live/room-{room.id}", protocol="hls"))
    assert read.status_code == 204  # a public room
    assert (await client.post(url, json=mediamtx_body("api", ""))).status_code == 403
    gone = await client.post(
        f"/api/v1/media/hooks/mediamtx/not-ready?secret={HOOK}", json={"path": f"live/room-{room.id}"}
    )
    assert gone.status_code == 204
    assert await room_state(client, room.id) == "reconnecting"


async def test_mediamtx_read_of_a_ticketed_room_needs_a_token(client: Any, make_room: Any) -> None:
    room = await make_room(access_mode="ticket")
    url = f"/api/v1/media/hooks/mediamtx/auth?secret={HOOK}"
    await client.post(url, json=mediamtx_body("publish", f"live/{room.stream_key}"))
    assert (await client.post(url, json=mediamtx_body("read", f"live/room-{room.id}"))).status_code == 403
    status = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/status")).json()
    token = status["stream_url"].split("?t=", 1)[1]
    allowed = await client.post(url, json=mediamtx_body("read", f"live/room-{room.id}", f"t={token}"))
    assert allowed.status_code == 204


async def test_nginx_form_hooks_rename_the_stream_and_end_after_grace(client: Any, make_room: Any) -> None:
    import asyncio

    room = await make_room()
    form = {"call": "publish", "app": "live", "name": room.stream_key, "addr": "127.0.0.1", "type": "live"}
    response = await client.post(f"/api/v1/media/hooks/nginx/publish?secret={HOOK}", data=form)
    assert response.status_code == 302 and response.headers["location"] == f"room-{room.id}"
    assert await room_state(client, room.id) == "live"
    wrong = await client.post(f"/api/v1/media/hooks/nginx/publish?secret={HOOK}", data={**form, "name": "kc_no"})
    assert wrong.status_code == 404
    done = {"call": "publish_done", "app": "live", "name": room.stream_key}
    assert (await client.post(f"/api/v1/media/hooks/nginx/publish-done?secret={HOOK}", data=done)).status_code == 204
    assert await room_state(client, room.id) == "reconnecting"
    for _ in range(100):
        if await room_state(client, room.id) == "ended":
            break
        await asyncio.sleep(0.05)
    assert await room_state(client, room.id) == "ended"
