"""The media folder's disk fills up: the host is told, the stream stops cleanly, nothing else breaks.

The disk is a real 640 KiB tmpfs mounted over the media folder (the test runs as root, as CI does); without
the right to mount, the test is reported unavailable rather than faked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from knowcast.media.runtime import Media
from knowcast.settings import Settings
from tests.media.conftest import eventually, room_state
from tests.services import unavailable


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "data" / "media"
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        unavailable(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def settings(settings: Settings, tiny_disk: Path) -> Settings:
    return settings


async def test_a_full_media_disk_stops_the_stream_with_a_message_and_the_rest_keeps_working(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    publisher = await publish(room.stream_key, sample_flv)

    async def let_go() -> bool:
        return publisher.process.returncode is not None

    await eventually(let_go, timeout=60, what="the publisher to be stopped when the disk fills")
    # an encoder mid-stream only sees the connection close; the words are on the host's console
    problems = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/health")).json()["problems"]
    assert "media.disk_full" in [p["code"] for p in problems]
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get(f"/rooms/{room.id}")).status_code == 200

    async def not_live() -> bool:
        return await room_state(client, room.id) in ("scheduled", "ended")

    await eventually(not_live, what="the room to leave 'live'")


async def test_publishing_is_refused_up_front_when_free_space_is_below_the_minimum(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    media.plane.min_free_bytes = 1 << 60
    room = await make_room()
    code, err = await (await publish(room.stream_key, sample_flv, loop=False)).result()
    assert code != 0 and "disk is full" in err
    assert await room_state(client, room.id) == "scheduled"
