"""Input that cannot be passed through is transcoded (or refused with a reason), and the optional ladder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from knowcast.media.runtime import Media
from knowcast.settings import Settings
from tests.media.conftest import eventually, make_sample, room_state


async def _live(client: Any, room_id: int) -> None:
    async def check() -> bool:
        return await room_state(client, room_id) == "live"

    await eventually(check, what="the room to go live")


async def test_sorenson_video_and_mp3_audio_are_transcoded(
    client: Any, media: Media, make_room: Any, publish: Any, tmp_path: Path
) -> None:
    source = make_sample(tmp_path / "old.flv", video="flv1", audio="libmp3lame")
    room = await make_room()
    await publish(room.stream_key, source)
    await _live(client, room.id)
    health = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/health")).json()
    assert health["video_codec"] == "h263" and health["audio_codec"] == "mp3"
    assert health["transcoding"] is True
    assert "media.transcoding" in [p["code"] for p in health["problems"]]
    assert (await client.get(f"/media/rooms/{room.id}/live.m3u8")).status_code == 200


async def test_a_stream_without_video_is_refused_with_a_reason(
    client: Any, media: Media, make_room: Any, publish: Any, tmp_path: Path
) -> None:
    source = tmp_path / "audio.flv"
    import subprocess

    from tests.media.conftest import FFMPEG

    subprocess.run(
        [FFMPEG, "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac", "-f", "flv", str(source)],
        check=True,
    )
    room = await make_room()
    publisher = await publish(room.stream_key, source)
    code, _ = await publisher.result()
    assert code != 0
    problems = [p.code for p in media.plane.health(room.id).problems]
    assert "media.unsupported_codec" in problems
    assert await room_state(client, room.id) == "scheduled"


class TestLadder:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"media_ladder": "360p,240p"})

    async def test_the_ladder_makes_renditions_behind_a_master_playlist(
        self, client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
    ) -> None:
        room = await make_room()
        await publish(room.stream_key, sample_flv)
        await _live(client, room.id)
        master = await client.get(f"/media/rooms/{room.id}/live.m3u8")
        assert master.status_code == 200
        assert "RESOLUTION=640x360" in master.text and "RESOLUTION=426x240" in master.text
        assert "360p/live.m3u8" in master.text and "240p/live.m3u8" in master.text

        async def both_renditions() -> bool:
            return media.store.segment_count(room.id) > 0

        await eventually(both_renditions, what="segments in every rendition")
        rendition = await client.get(f"/media/rooms/{room.id}/240p/live.m3u8")
        assert rendition.status_code == 200
        segment = next(line for line in rendition.text.splitlines() if line and not line.startswith("#"))
        assert (await client.get(f"/media/rooms/{room.id}/240p/{segment}")).status_code == 200
