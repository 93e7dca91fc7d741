"""WHIP ingest for real: a scripted aiortc publisher over loopback ICE, the room goes live, HLS is served."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from knowcast.media.runtime import Media
from knowcast.media.webrtc import close_peer
from tests.media.conftest import FFMPEG, eventually, room_state
from tests.media.whip_client import whip_offer, whip_publish

# a WebRTC session that hangs (a peer or an ffmpeg that stops answering) fails its test, not the whole run
pytestmark = pytest.mark.timeout(240)


def centre_rgb(segment: Path) -> tuple[int, int, int]:
    """The colour at the centre of a segment's first decoded picture (ffmpeg decodes; 1×1 raw RGB out)."""
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(segment), "-frames:v", "1"]
    args += ["-vf", "crop=8:8,scale=1:1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    out = subprocess.run(args, check=True, capture_output=True).stdout
    return out[0], out[1], out[2]


async def test_whip_publish_goes_live_and_delete_ends_the_session(
    client: Any, media: Media, make_room: Any, tmp_path: Path
) -> None:
    room = await make_room()
    pc = await whip_offer(rgb=(0, 200, 0))
    try:
        response = await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, pc)
        assert response.status_code == 201, response.text
        assert response.headers["content-type"].startswith("application/sdp")
        location = response.headers["location"]
        assert location.startswith("/whip/sessions/")
        assert "a=candidate:" in response.text  # no trickle: the answer carries our candidates

        async def is_live() -> bool:
            return await room_state(client, room.id) == "live"

        await eventually(is_live, timeout=60, what="the WHIP room to go live")
        playlist = await client.get(f"/media/rooms/{room.id}/live.m3u8")
        assert playlist.status_code == 200
        uri = next(line for line in playlist.text.splitlines() if line and not line.startswith("#"))
        segment = await client.get(f"/media/rooms/{room.id}/{uri}")
        assert segment.content[:1] == b"\x47"
        path = tmp_path / "seg.ts"
        path.write_bytes(segment.content)
        red, green, blue = centre_rgb(path)
        assert green > 150 and red < 60 and blue < 60, (red, green, blue)

        health = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/health")).json()
        assert health["publishing"] is True
        assert health["video_codec"] == "h264" and health["audio_codec"] == "aac"
        assert health["transcoding"] is False

        assert (await client.delete(location)).status_code == 200
        assert media.plane.health(room.id).publishing is False
        assert (await client.delete(location)).status_code == 404
        await asyncio.sleep(0)
    finally:
        await close_peer(pc)


async def test_whip_refuses_a_wrong_or_missing_key_with_401(client: Any, make_room: Any) -> None:
    room, other = await make_room(), await make_room()
    for key, code in (
        ("not-the-key", "media.wrong_key"),
        (other.stream_key, "media.wrong_key"),
        (None, "media.key_required"),
    ):
        pc = await whip_offer(audio=False)
        try:
            response = await whip_publish(client, f"/whip/rooms/{room.id}", key, pc)
        finally:
            await close_peer(pc)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == code
        assert response.headers["www-authenticate"] == "Bearer"


async def test_whip_refuses_a_second_publisher_and_a_bad_offer(client: Any, make_room: Any) -> None:
    room = await make_room()
    first = await whip_offer(audio=False)
    second = await whip_offer(audio=False)
    try:
        assert (await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, first)).status_code == 201
        again = await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, second)
        assert again.status_code == 409 and again.json()["error"]["code"] == "media.already_publishing"
    finally:
        await first.close()
        await second.close()
    other = await make_room()
    headers = {"authorization": f"Bearer {other.stream_key}", "content-type": "application/sdp"}
    bad = await client.post(f"/whip/rooms/{other.id}", content=b"v=0\r\nnonsense", headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "media.no_video_offer"
    text = await client.post(
        f"/whip/rooms/{other.id}", content=b"v=0", headers={**headers, "content-type": "text/plain"}
    )
    assert text.status_code == 422 and text.json()["error"]["code"] == "media.bad_offer"
    pc = await whip_offer(audio=False)  # the refused offers left the room free
    try:
        assert (await whip_publish(client, f"/whip/rooms/{other.id}", other.stream_key, pc)).status_code == 201
    finally:
        await close_peer(pc)


async def test_rotating_the_key_lets_the_whip_publisher_go(client: Any, media: Media, make_room: Any) -> None:
    room = await make_room()
    pc = await whip_offer(audio=False)
    try:
        assert (await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, pc)).status_code == 201
        assert media.whip is not None and len(media.whip.sessions) == 1
        rotated = await room.host.client.post(f"/api/v1/rooms/{room.id}/stream-key")
        assert rotated.status_code == 200, rotated.text

        async def let_go() -> bool:
            assert media.whip is not None
            return not media.whip.sessions and not media.plane.health(room.id).publishing

        await eventually(let_go, what="the WHIP session to end after the key was rotated")
        codes = [problem.code for problem in media.plane.health(room.id).problems]
        assert "media.key_rotated" in codes
        again = await whip_offer(audio=False)
        try:  # the old key is refused from now on; the new one is taken
            old = await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, again)
            assert old.status_code == 401 and old.json()["error"]["code"] == "media.wrong_key"
        finally:
            await again.close()
    finally:
        await close_peer(pc)
