"""WHEP viewing for real: ffmpeg publishes RTMP, a scripted aiortc viewer (loopback ICE) receives the program's
pictures and sound over WebRTC; the per-process viewer budget sends the next viewer to HLS."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from knowcast.media.runtime import Media
from knowcast.media.webrtc import close_peer
from knowcast.settings import Settings
from tests.media.conftest import eventually, room_state
from tests.media.whip_client import whip_offer, whip_publish


class Viewer:
    """A recvonly peer connection that counts what it receives."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pictures: list[VideoFrame] = []
        self.sounds = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.on("track", lambda track: self.tasks.append(asyncio.ensure_future(self._take(track))))

    async def _take(self, track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            if isinstance(frame, VideoFrame):
                self.pictures.append(frame)
            elif isinstance(frame, AudioFrame):
                self.sounds += 1

    async def watch(self, client: Any, room_id: int) -> Any:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = self.pc.localDescription.sdp.encode()
        response = await client.post(
            f"/whep/rooms/{room_id}", content=body, headers={"content-type": "application/sdp"}
        )
        if response.status_code == 201:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await close_peer(self.pc)


# a WebRTC session that hangs (a peer or an ffmpeg that stops answering) fails its test, not the whole run
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webrtc_max_viewers": 1})


async def test_a_viewer_receives_the_program_over_webrtc_and_the_next_one_is_sent_to_hls(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    nobody = Viewer()
    try:
        response = await nobody.watch(client, room.id)
        assert response.status_code == 404 and response.json()["error"]["code"] == "media.not_publishing"
    finally:
        await nobody.close()

    await publish(room.stream_key, sample_flv)

    async def is_live() -> bool:
        return await room_state(client, room.id) == "live"

    await eventually(is_live, timeout=60, what="the room to go live")
    viewer, second = Viewer(), Viewer()
    try:
        response = await viewer.watch(client, room.id)
        assert response.status_code == 201, response.text
        location = response.headers["location"]
        assert location.startswith("/whep/sessions/")

        async def pictures_and_sound() -> bool:
            return len(viewer.pictures) >= 30 and viewer.sounds >= 25

        await eventually(pictures_and_sound, timeout=60, what="30 pictures and 25 sound frames over WebRTC")
        picture = viewer.pictures[-1]
        assert (picture.width, picture.height) == (320, 180)  # the sample's own size: it is the program

        over = await second.watch(client, room.id)
        assert over.status_code == 503 and over.json()["error"]["code"] == "media.webrtc_full"
        assert media.whep is not None and media.whep.viewers() == 1

        assert (await client.delete(location)).status_code == 200
        assert media.whep.viewers() == 0 and not media.whep.feeds
        assert not media.plane.broadcasts[room.id].taps  # the feed stopped listening with its last viewer
    finally:
        await viewer.close()
        await second.close()


async def test_a_whip_publisher_reaches_a_whep_viewer_in_its_own_colour(
    client: Any, media: Media, make_room: Any
) -> None:
    room = await make_room()
    publisher = await whip_offer(rgb=(200, 0, 200))
    viewer = Viewer()
    try:
        assert (await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, publisher)).status_code == 201

        async def is_live() -> bool:
            return await room_state(client, room.id) == "live"

        await eventually(is_live, timeout=60, what="the WHIP room to go live")
        assert (await viewer.watch(client, room.id)).status_code == 201

        async def pictures() -> bool:
            return len(viewer.pictures) >= 10

        await eventually(pictures, timeout=60, what="pictures over WHEP")
        centre = viewer.pictures[-1].to_ndarray(format="rgb24")[120, 160]
        assert centre[0] > 150 and centre[1] < 60 and centre[2] > 150, centre  # magenta in, magenta out
    finally:
        await viewer.close()
        await publisher.close()
