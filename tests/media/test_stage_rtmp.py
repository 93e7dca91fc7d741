"""连麦 with a host publishing over RTMP (OBS): real ffmpeg publishes a red test picture to the embedded gate, a
scripted blue aiortc guest joins. The guest sees the host; while the guest is on the program is decoded, composed
and re-encoded (a frame decoded from HLS has the host left and the guest right); once the guest is removed the
program is the publisher's own stream again, passed through; the replay keeps the guest's part.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from knowcast.media import rtmp
from knowcast.media.program import RtmpStage
from knowcast.media.runtime import Media
from knowcast.media.webrtc import close_peer
from tests.media.conftest import FFMPEG, eventually, room_state
from tests.media.test_stage import RED, Program, invite, is_colour, join, rgb_at, stage

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def red_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A red 320×240 picture with a tone, H.264/AAC with a keyframe a second, as OBS would send."""
    path = tmp_path_factory.mktemp("red") / "red.flv"
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=320x240:r=25:d=4"]
    args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=4"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-f", "flv"]
    subprocess.run([*args, str(path)], check=True, capture_output=True)
    return path


def relay_of(media: Media, room_id: int) -> RtmpStage:
    relay = media.plane.broadcasts[room_id].relay
    assert isinstance(relay, RtmpStage)
    return relay


async def test_an_rtmp_host_brings_a_guest_into_the_program_and_back_out(
    client: Any, media: Media, make_room: Any, publish: Any, red_flv: Path, tmp_path: Path
) -> None:
    room = await make_room()
    program = Program(client, room.id, tmp_path)
    publisher = await publish(room.stream_key, red_flv)
    peers = []
    try:

        async def live() -> bool:
            return await room_state(client, room.id) == "live"

        await eventually(live, timeout=60, what="the RTMP host to go live")
        relay = relay_of(media, room.id)
        broadcast = media.plane.broadcasts[room.id]
        own = relay.headers[rtmp.VIDEO].payload
        assert relay.encoder is None and broadcast.sequence_headers[rtmp.VIDEO].payload == own  # passthrough
        assert (await stage(room))["host_on_camera"] is True

        made = await invite(room, name="Dr. Blue")
        await program.mark()
        heard: list[Any] = []
        joined, guest = await join(client, made["token"], heard)
        peers.append(guest)
        assert joined.status_code == 201, joined.text

        video = next(track for track in heard if track.kind == "video")  # the guest sees the RTMP host
        async with asyncio.timeout(30):
            picture = await video.recv()
        r, g, b = picture.to_ndarray(format="rgb24")[120, 160]
        assert is_colour((int(r), int(g), int(b)), RED)

        async def both() -> Path | None:
            segment = await program.fresh()
            if segment is None:
                return None
            blue = is_colour(rgb_at(segment, 0.75), (0, 0, 220))
            return segment if is_colour(rgb_at(segment, 0.25), RED) and blue else None

        await eventually(both, timeout=90, what="a program picture with the RTMP host left and the guest right")
        assert relay.encoder is not None and broadcast.sequence_headers[rtmp.VIDEO].payload != own  # ours now
        playlist = (await client.get(f"/media/rooms/{room.id}/live.m3u8")).text
        assert "#EXT-X-DISCONTINUITY" in playlist  # players reset their decoders where the codec changed

        guest_id = (await stage(room))["guests"][0]["id"]
        removed = await room.host.client.delete(f"/api/v1/media/rooms/{room.id}/stage/guests/{guest_id}")
        assert removed.status_code == 204
        await program.mark()

        async def alone() -> Path | None:
            segment = await program.fresh()
            if segment is None:
                return None
            return segment if all(is_colour(rgb_at(segment, x), RED) for x in (0.25, 0.75)) else None

        await eventually(alone, timeout=90, what="the program to be the RTMP host's alone again")
        assert relay.encoder is None and broadcast.sequence_headers[rtmp.VIDEO].payload == own  # passthrough again

        await publisher.stop()

        async def ended() -> bool:
            return await room_state(client, room.id) == "ended"

        await eventually(ended, timeout=60, what="the room to end after the grace")
        recording = [await program.save(uri) for uri in await program.uris("vod")]
        assert any(is_colour(rgb_at(path, 0.75), (0, 0, 220)) for path in recording)  # the replay has the guest
        assert is_colour(rgb_at(recording[-1], 0.75), RED)  # and ends with the host alone
    finally:
        for pc in peers:
            await close_peer(pc)
