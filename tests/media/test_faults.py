"""Bad input and faults on the embedded path, each with real ffmpeg processes and real sockets."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from knowcast.media import rtmp
from knowcast.media.runtime import Media
from tests.media.conftest import eventually, room_state


async def _live(client: Any, room_id: int) -> None:
    async def check() -> bool:
        return await room_state(client, room_id) == "live"

    await eventually(check, what=f"room {room_id} to be live")


async def _state(client: Any, room_id: int, state: str) -> None:
    async def check() -> bool:
        return await room_state(client, room_id) == state

    await eventually(check, what=f"room {room_id} to be {state}")


async def test_a_wrong_key_is_refused_with_a_message(
    client: Any, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    code, err = await (await publish("kc_not-the-key", sample_flv, loop=False)).result()
    assert code != 0
    assert "not valid" in err
    assert await room_state(client, room.id) == "scheduled"


async def test_a_rotated_key_is_refused_and_kicks_the_publisher(
    client: Any, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    publisher = await publish(room.stream_key, sample_flv)
    await _live(client, room.id)
    rotated = await room.host.client.post(f"/api/v1/rooms/{room.id}/stream-key")
    assert rotated.status_code == 200
    code, _ = await publisher.result()
    assert code != 0  # kicked
    again_code, err = await (await publish(room.stream_key, sample_flv, loop=False)).result()
    assert again_code != 0 and "not valid" in err
    health = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/health")).json()
    assert "media.key_rotated" in [p["code"] for p in health["problems"]]


async def test_an_ended_rooms_key_is_refused(client: Any, make_room: Any, publish: Any, sample_flv: Path) -> None:
    room = await make_room()
    ended = await room.host.client.post(f"/api/v1/rooms/{room.id}/transitions", json={"to": "ended"})
    assert ended.status_code == 200
    code, err = await (await publish(room.stream_key, sample_flv, loop=False)).result()
    assert code != 0 and "ended" in err


async def test_a_second_publisher_is_refused_and_the_first_keeps_going(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    await publish(room.stream_key, sample_flv)
    await _live(client, room.id)
    code, err = await (await publish(room.stream_key, sample_flv, loop=False)).result()
    assert code != 0 and "already has an encoder" in err
    assert await room_state(client, room.id) == "live"
    assert media.plane.health(room.id).publishing
    problems = [p.code for p in media.plane.health(room.id).problems]
    assert "media.second_publisher" in problems


async def test_garbage_on_the_rtmp_port_closes_that_connection_only(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    assert media.gate is not None
    for garbage in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(4000), b"\x03" + os.urandom(3 * 1536 + 500)):
        reader, writer = await asyncio.open_connection("127.0.0.1", media.gate.port)
        writer.write(garbage)
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 15)  # the server closes; we only see EOF (after S0-S2)
        assert len(rest) in (0, 1 + 2 * rtmp.HANDSHAKE_SIZE)
        writer.close()
    assert (await client.get("/healthz")).status_code == 200
    room = await make_room()
    await publish(room.stream_key, sample_flv)
    await _live(client, room.id)


async def test_a_publisher_that_drops_and_returns_within_the_grace_period_continues_the_room(
    client: Any, media: Media, settings: Any, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    media.plane.grace_seconds = 60  # long enough that only the return can end the wait
    room = await make_room()
    first = await publish(room.stream_key, sample_flv)
    await _live(client, room.id)
    await first.stop()
    await _state(client, room.id, "reconnecting")
    before = media.store.segment_count(room.id)
    await publish(room.stream_key, sample_flv)
    await _live(client, room.id)
    assert media.store.segment_count(room.id) > before
    text = (await client.get(f"/media/rooms/{room.id}/vod.m3u8")).text
    assert "#EXT-X-DISCONTINUITY" in text  # the second session is stitched on, numbered on from the first
    started = (await client.get(f"/api/v1/rooms/{room.id}")).json()["started_at"]
    assert started is not None


async def test_ffmpeg_crashing_is_restarted_and_the_room_stays_live(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    await publish(room.stream_key, sample_flv)
    await _live(client, room.id)
    broadcast = media.plane.broadcasts[room.id]
    assert broadcast.ffmpeg is not None
    crashed_pid = broadcast.ffmpeg.pid
    os.kill(crashed_pid, signal.SIGKILL)

    async def restarted() -> bool:
        child = broadcast.ffmpeg
        return child is not None and child.pid != crashed_pid

    await eventually(restarted, what="ffmpeg to be restarted")
    count = media.store.segment_count(room.id)

    async def more_segments() -> bool:
        return media.store.segment_count(room.id) > count

    await eventually(more_segments, what="segments after the restart")
    assert await room_state(client, room.id) == "live"
    assert "media.ffmpeg_restarted" in [p.code for p in media.plane.health(room.id).problems]


async def test_ffmpeg_crashing_again_and_again_ends_the_room_instead_of_leaving_it_live(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    publisher = await publish(room.stream_key, sample_flv)
    await _live(client, room.id)
    broadcast = media.plane.broadcasts[room.id]
    killed: set[int] = set()

    async def kill_current() -> bool:
        child = broadcast.ffmpeg
        if child is not None and child.pid not in killed:
            killed.add(child.pid)
            os.kill(child.pid, signal.SIGKILL)
        return publisher.process.returncode is not None

    await eventually(kill_current, what="the publisher to be let go after repeated crashes")
    await _state(client, room.id, "ended")
    assert "media.ffmpeg_failed" in [p.code for p in broadcast.report().problems]
