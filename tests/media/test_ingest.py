"""Embedded ingest for real: ffmpeg publishes RTMP to the gate, the room goes live, HLS is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowcast.media.runtime import Media
from tests.media.conftest import eventually, room_state


async def test_publish_goes_live_serves_hls_and_leaves_a_replay(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    publisher = await publish(room.stream_key, sample_flv)

    async def is_live() -> bool:
        return await room_state(client, room.id) == "live"

    await eventually(is_live, what="the room to go live")
    playlist = await client.get(f"/media/rooms/{room.id}/live.m3u8")
    assert playlist.status_code == 200
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "no-cache" in playlist.headers["cache-control"]
    assert "#EXT-X-PROGRAM-DATE-TIME:" in playlist.text
    assert "#EXT-X-ENDLIST" not in playlist.text
    segment_uri = next(line for line in playlist.text.splitlines() if line and not line.startswith("#"))
    segment = await client.get(f"/media/rooms/{room.id}/{segment_uri}")
    assert segment.status_code == 200
    assert segment.headers["content-type"] == "video/mp2t"
    assert "immutable" in segment.headers["cache-control"]
    assert segment.content[:1] == b"\x47"  # MPEG-TS sync byte

    status = (await client.get(f"/api/v1/media/rooms/{room.id}/status")).json()
    assert status["stream_url"] == f"/media/rooms/{room.id}/live.m3u8"
    health = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/health")).json()
    assert health["publishing"] is True
    assert health["video_codec"] == "h264" and health["audio_codec"] == "aac"
    assert health["transcoding"] is False

    await publisher.stop()

    async def is_ended() -> bool:
        return await room_state(client, room.id) == "ended"

    await eventually(is_ended, what="the room to end after the grace period")
    vod = await client.get(f"/media/rooms/{room.id}/vod.m3u8")
    assert vod.status_code == 200
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in vod.text and vod.text.rstrip().endswith("#EXT-X-ENDLIST")
    assert (media.store.variant_dir(room.id, "src") / "vod.m3u8").exists()
    live_after = await client.get(f"/media/rooms/{room.id}/live.m3u8")
    assert live_after.text.rstrip().endswith("#EXT-X-ENDLIST")
