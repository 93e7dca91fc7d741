"""连麦 guests see and hear each other: scripted aiortc guests whose pages offer two recvonly seats of each kind and
a data channel, as the browser's guest page does. Colours say whose picture a seat shows (blue, green, yellow);
only the green guest sends a tone, so sound in a seat is green's and green must never get it back (mix-minus).
The server side is the real one: aiortc, the stage's feeds, the invitations in the database.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from aiortc import AudioStreamTrack, RTCBundlePolicy, RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from knowcast.media.runtime import Media
from knowcast.media.stage import SEATS
from knowcast.media.webrtc import close_peer
from tests.media.conftest import eventually
from tests.media.test_stage import invite, is_colour, stage
from tests.media.whip_client import ColourTrack, ToneTrack, whip_publish

pytestmark = pytest.mark.timeout(300)
BLUE, GREEN, YELLOW = (0, 0, 220), (0, 200, 0), (220, 220, 0)


@dataclass
class Guest:
    """One scripted guest page: its connection, its seats' tracks (once answered) and what the data channel said."""

    pc: RTCPeerConnection
    told: list[list[Any]] = field(default_factory=list)

    def seat(self, kind: str, index: int) -> MediaStreamTrack:
        receiving = [t for t in self.pc.getTransceivers() if t.kind == kind and t.direction == "recvonly"]
        track: MediaStreamTrack = receiving[index].receiver.track
        return track

    def names(self) -> list[str | None]:
        return [None if s is None else s["name"] for s in self.told[-1]] if self.told else []


async def guest_page(rgb: tuple[int, int, int], tone: bool) -> Guest:
    # max-bundle as browsers do: under aiortc's default a second audio m-line's transport is lost to BUNDLE
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTrack(ColourTrack(rgb))
    pc.addTrack(ToneTrack() if tone else AudioStreamTrack())  # aiortc's own AudioStreamTrack is silence
    for _ in range(SEATS):
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
    guest = Guest(pc)
    channel = pc.createDataChannel("stage")
    channel.on("message", lambda text: guest.told.append(json.loads(text)["seats"]))
    await pc.setLocalDescription(await pc.createOffer())
    return guest


async def join(client: Any, room: Any, name: str, rgb: tuple[int, int, int], tone: bool = False) -> Guest:
    guest = await guest_page(rgb, tone)
    made = await invite(room, name=name)
    response = await whip_publish(client, "/whip/stage", made["token"], guest.pc)
    assert response.status_code == 201, response.text
    return guest


async def shows(track: MediaStreamTrack, rgb: tuple[int, int, int], frames: int = 90) -> bool:
    """Whether one of the next ``frames`` pictures of ``track`` is ``rgb`` at its centre (older pictures of a
    seat's previous guest may still be on the way after a switch)."""
    for _ in range(frames):
        async with asyncio.timeout(30):
            picture = (await track.recv()).to_ndarray(format="rgb24")
        r, g, b = picture[picture.shape[0] // 2, picture.shape[1] // 2]
        if is_colour((int(r), int(g), int(b)), rgb):
            return True
    return False


def rms(frame: Any) -> float:
    samples = frame.to_ndarray().astype(np.float64)
    return float(np.sqrt(np.mean(np.square(samples))))


async def loudness(track: MediaStreamTrack, frames: int = 50) -> float:
    """The loudest 20 ms of the next ``frames`` sound frames of ``track`` (RMS of 16-bit samples)."""
    loudest = 0.0
    for _ in range(frames):
        async with asyncio.timeout(30):
            loudest = max(loudest, rms(await track.recv()))
    return loudest


async def goes_quiet(track: MediaStreamTrack, frames: int = 25, within: int = 1500) -> bool:
    """Whether ``frames`` quiet frames in a row come within the next ``within`` (a receiving track queues what
    arrived while nobody read it, so the sound from before a change comes first)."""
    quiet = 0
    for _ in range(within):
        async with asyncio.timeout(30):
            quiet = quiet + 1 if rms(await track.recv()) < 50 else 0
        if quiet >= frames:
            return True
    return False


async def test_guests_see_and_hear_each_other_never_themselves_and_seats_follow_who_is_on(
    client: Any, media: Media, make_room: Any
) -> None:
    room = await make_room()
    guests: list[Guest] = []
    try:
        blue = await join(client, room, "Dr. Blue", BLUE)
        guests.append(blue)
        green = await join(client, room, "Ms. Green", GREEN, tone=True)
        guests.append(green)

        async def seated() -> bool:
            return blue.names() == ["Ms. Green", None] and green.names() == ["Dr. Blue", None]

        await eventually(seated, what="each guest's page told who sits in its first seat")
        assert await shows(blue.seat("video", 0), GREEN)  # blue sees green
        assert await shows(green.seat("video", 0), BLUE)  # and green sees blue
        assert await loudness(blue.seat("audio", 0)) > 300  # blue hears green's tone
        assert await loudness(green.seat("audio", 0)) < 50  # green hears blue (silent): never its own tone

        yellow = await join(client, room, "Mr. Yellow", YELLOW)
        guests.append(yellow)

        async def three() -> bool:
            return blue.names() == ["Ms. Green", "Mr. Yellow"] and yellow.names() == ["Dr. Blue", "Ms. Green"]

        await eventually(three, what="the third guest seated beside the others")
        assert await shows(blue.seat("video", 1), YELLOW)
        assert await shows(yellow.seat("video", 1), GREEN)
        assert await loudness(yellow.seat("audio", 1)) > 300

        state = await stage(room)
        green_id = next(g["id"] for g in state["guests"] if g["name"] == "Ms. Green")
        muted = await room.host.client.put(
            f"/api/v1/media/rooms/{room.id}/stage/guests/{green_id}/mute", json={"muted": True}
        )
        assert muted.status_code == 200
        assert media.whip is not None
        green_session = media.whip.stages[room.id].guests[green_id]

        async def told_muted() -> bool:
            return bool(blue.told) and (blue.told[-1][0] or {}).get("muted") is True

        await eventually(told_muted, what="the pages told green is muted")
        assert await goes_quiet(blue.seat("audio", 0))  # the host's mute silences green for the guests too

        removed = await room.host.client.delete(f"/api/v1/media/rooms/{room.id}/stage/guests/{green_id}")
        assert removed.status_code == 204

        async def green_gone() -> bool:
            return blue.names() == [None, "Mr. Yellow"] and yellow.names() == ["Dr. Blue", None]

        await eventually(green_gone, what="green's seats emptied; the others keep theirs")
        assert await shows(blue.seat("video", 1), YELLOW)
        assert not green_session.video.tracks and not green_session.voice.tracks  # no seat still fed from green
    finally:
        for guest in guests:
            await close_peer(guest.pc)
