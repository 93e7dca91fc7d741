"""连麦 for real: the host and guests are scripted aiortc publishers over loopback ICE (a red host, a blue guest,
solid colours so a frame decoded by ffmpeg from the program's HLS says who is on it; a browser's fake camera
draws a moving pattern of its own, which cannot be made one colour). The server side is the real one: aiortc,
the composition, x264, ffmpeg → HLS, the database's invitations.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from sqlalchemy import update

from knowcast.db.types import utcnow
from knowcast.media.models import GuestInvite
from knowcast.media.runtime import Media
from knowcast.media.webrtc import close_peer
from tests.media.conftest import FFMPEG, eventually, room_state
from tests.media.whip_client import whip_offer, whip_publish

pytestmark = pytest.mark.timeout(300)
RED, BLUE = (220, 0, 0), (0, 0, 220)


def rgb_at(segment: Path, x: float, y: float = 0.5) -> tuple[int, int, int]:
    """The colour at (x, y) (fractions of the picture) of a segment's first decoded picture."""
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(segment), "-frames:v", "1"]
    args += ["-vf", f"crop=8:8:iw*{x}-4:ih*{y}-4,scale=1:1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    out = subprocess.run(args, check=True, capture_output=True).stdout
    return out[0], out[1], out[2]


def sound_level(segment: Path) -> float:
    """RMS of the segment's sound (ffmpeg decodes it to 16-bit mono)."""
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(segment), "-vn", "-ac", "1", "-f", "s16le", "-"]
    samples = np.frombuffer(subprocess.run(args, check=True, capture_output=True).stdout, np.int16)
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64))))) if len(samples) else 0.0


def is_colour(rgb: tuple[int, int, int], want: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 60 for a, b in zip(rgb, want, strict=True))


class Program:
    """The room's HLS program as a viewer fetches it: the newest segments, saved for ffmpeg to decode."""

    def __init__(self, client: Any, room_id: int, folder: Path) -> None:
        self.client, self.room_id, self.folder = client, room_id, folder
        self.seen: set[str] = set()

    async def uris(self, kind: str = "live") -> list[str]:
        playlist = await self.client.get(f"/media/rooms/{self.room_id}/{kind}.m3u8")
        if playlist.status_code != 200:
            return []
        return [line for line in playlist.text.splitlines() if line and not line.startswith("#")]

    async def save(self, uri: str) -> Path:
        segment = await self.client.get(f"/media/rooms/{self.room_id}/{uri}")
        path = self.folder / uri.replace("/", "_")
        path.write_bytes(segment.content)
        return path

    async def mark(self) -> None:
        self.seen.update(await self.uris())

    async def fresh(self, after: int = 2) -> Path | None:
        """A segment begun after ``mark()`` (the ``after``-th new one: the first may straddle the change)."""
        new = [uri for uri in await self.uris() if uri not in self.seen]
        return await self.save(new[after - 1]) if len(new) >= after else None


async def invite(room: Any, **body: Any) -> dict[str, Any]:
    response = await room.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/invites", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def join(client: Any, token: str | None, heard: list[Any] | None = None) -> tuple[Any, RTCPeerConnection]:
    """A blue guest presents ``token``; the tracks the server sends back are added to ``heard``."""
    pc = await whip_offer(rgb=BLUE)
    pc.on("track", (heard if heard is not None else []).append)
    return await whip_publish(client, "/whip/stage", token, pc), pc


async def stage(room: Any) -> dict[str, Any]:
    data: dict[str, Any] = (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/stage")).json()
    return data


async def test_a_guest_is_composed_into_the_program_muted_removed_and_kept_in_the_replay(
    client: Any, media: Media, make_room: Any, tmp_path: Path
) -> None:
    room = await make_room()
    program = Program(client, room.id, tmp_path)
    host = await whip_offer(rgb=RED, tone=False)  # the host is silent: any sound in the program is the guest's
    peers = [host]
    try:
        response = await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, host)
        assert response.status_code == 201, response.text
        host_location = response.headers["location"]

        async def live() -> bool:
            return await room_state(client, room.id) == "live"

        await eventually(live, timeout=60, what="the host to go live")
        made = await invite(room, name="Dr. Blue")
        assert made["url"].endswith(f"/stage/join#{made['token']}")
        await program.mark()
        heard: list[Any] = []
        joined, guest = await join(client, made["token"], heard)
        peers.append(guest)
        assert joined.status_code == 201, joined.text
        location = joined.headers["location"]

        async def both() -> Path | None:
            segment = await program.fresh()
            if segment is None:
                return None
            return segment if is_colour(rgb_at(segment, 0.25), RED) and is_colour(rgb_at(segment, 0.75), BLUE) else None

        segment = await eventually(both, timeout=60, what="a program picture with the host left and the guest right")
        assert sound_level(segment) > 300  # the guest's tone is in the program's sound
        state = await stage(room)
        assert [g["name"] for g in state["guests"]] == ["Dr. Blue"] and state["layout"] == "side_by_side"
        guest_id = state["guests"][0]["id"]

        # the guest sees the host: the answer sent the host's camera back on the guest's own connection
        video = next(track for track in heard if track.kind == "video")
        async with asyncio.timeout(30):
            picture = await video.recv()
        r, g, b = picture.to_ndarray(format="rgb24")[120, 160]
        assert is_colour((int(r), int(g), int(b)), RED)

        mute = await room.host.client.put(
            f"/api/v1/media/rooms/{room.id}/stage/guests/{guest_id}/mute", json={"muted": True}
        )
        assert mute.status_code == 200 and mute.json()["guests"][0]["muted"] is True
        await program.mark()

        async def quiet() -> Path | None:
            segment = await program.fresh()
            return segment if segment is not None and sound_level(segment) < 50 else None

        await eventually(quiet, timeout=60, what="the muted guest's sound to leave the program")

        pip = await room.host.client.put(f"/api/v1/media/rooms/{room.id}/stage/layout", json={"layout": "pip"})
        assert pip.status_code == 200 and pip.json()["layout"] == "pip"
        await program.mark()

        async def inset() -> Path | None:
            segment = await program.fresh()
            if segment is None:
                return None
            corner = rgb_at(segment, 0.85, 0.85)
            return segment if is_colour(rgb_at(segment, 0.25), RED) and is_colour(corner, BLUE) else None

        await eventually(inset, timeout=60, what="the guest as a picture in the host's picture")

        removed = await room.host.client.delete(f"/api/v1/media/rooms/{room.id}/stage/guests/{guest_id}")
        assert removed.status_code == 204
        assert (await stage(room))["guests"] == []
        assert media.whip is not None and not media.whip.stages[room.id].host_video.tracks  # nothing left queued
        assert (await client.delete(location)).status_code == 404  # the guest's session is gone
        await program.mark()

        async def alone() -> Path | None:
            segment = await program.fresh()
            if segment is None:
                return None
            return segment if all(is_colour(rgb_at(segment, x), RED) for x in (0.25, 0.75, 0.85)) else None

        await eventually(alone, timeout=60, what="the program to show the host alone again")
        again, other = await join(client, made["token"])  # removal spent the invitation for good
        peers.append(other)
        assert again.status_code == 401 and again.json()["error"]["code"] == "media.invite_used"

        assert (await client.delete(host_location)).status_code == 200

        async def ended() -> bool:
            return await room_state(client, room.id) == "ended"

        await eventually(ended, timeout=60, what="the room to end")
        recording = [await program.save(uri) for uri in await program.uris("vod")]
        assert any(is_colour(rgb_at(path, 0.75), BLUE) for path in recording)  # the replay has the guest's part
    finally:
        for pc in peers:
            await close_peer(pc)


async def test_invitations_are_refused_when_wrong_expired_or_used_and_a_fourth_guest_is_refused(
    client: Any, ctx: Any, media: Media, make_room: Any
) -> None:
    room = await make_room()
    peers: list[RTCPeerConnection] = []
    try:
        for token, code in ((None, "media.invite_required"), ("not-a-token", "media.invite_invalid")):
            response, pc = await join(client, token)
            peers.append(pc)
            assert response.status_code == 401 and response.json()["error"]["code"] == code
            assert response.headers["www-authenticate"] == "Bearer"

        expired = await invite(room)
        async with ctx.db.session() as session:
            await session.execute(
                update(GuestInvite)
                .where(GuestInvite.id == expired["invite_id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        response, pc = await join(client, expired["token"])
        peers.append(pc)
        assert response.status_code == 401 and response.json()["error"]["code"] == "media.invite_expired"

        tokens = [(await invite(room, name=f"Guest {i}"))["token"] for i in range(4)]
        for token in tokens[:3]:  # guests may join before the host turns the camera on
            response, pc = await join(client, token)
            peers.append(pc)
            assert response.status_code == 201, response.text
        used, pc = await join(client, tokens[0])
        peers.append(pc)
        assert used.status_code == 401 and used.json()["error"]["code"] == "media.invite_used"
        fourth, pc = await join(client, tokens[3])
        peers.append(pc)
        assert fourth.status_code == 409 and fourth.json()["error"]["code"] == "media.stage_full"
        assert len((await stage(room))["guests"]) == 3
        not_guest = await room.host.client.post(
            f"/api/v1/media/rooms/{room.id}/stage/invites", json={"user_id": room.host.user.id}
        )
        assert not_guest.status_code == 422 and not_guest.json()["error"]["code"] == "media.not_a_guest"
        other = await make_room()
        foreign = await other.host.client.get(f"/api/v1/media/rooms/{room.id}/stage")
        assert foreign.status_code == 403
        layout = await room.host.client.put(f"/api/v1/media/rooms/{room.id}/stage/layout", json={"layout": "grid"})
        assert layout.status_code == 422
    finally:
        for pc in peers:
            await close_peer(pc)


async def test_an_invitation_for_a_room_guest_needs_their_session_and_the_host_can_watch_the_guest(
    client: Any, make_room: Any, make_user: Any
) -> None:
    from knowcast.accounts.models import Role

    room = await make_room()
    expert = await make_user(Role.VIEWER)
    added = await room.host.client.post(f"/api/v1/rooms/{room.id}/guests", json={"email": expert.user.email})
    assert added.status_code == 201, added.text
    made = await invite(room, user_id=expert.user.id)
    assert made["user_id"] == expert.user.id and made["name"] == added.json()["name"]
    stranger = await make_user(Role.VIEWER)
    for who, status, code in (
        (client, 401, "media.signin_required"),
        (stranger.client, 403, "media.invite_for_another"),
    ):
        refused, pc = await join(who, made["token"])
        await close_peer(pc)
        assert refused.status_code == status and refused.json()["error"]["code"] == code
    response, guest = await join(expert.client, made["token"])  # the guest's own signed-in browser
    viewer = RTCPeerConnection()
    try:
        assert response.status_code == 201, response.text
        guest_id = (await stage(room))["guests"][0]["id"]
        viewer.addTransceiver("video", direction="recvonly")
        viewer.addTransceiver("audio", direction="recvonly")
        seen: list[Any] = []
        viewer.on("track", seen.append)
        await viewer.setLocalDescription(await viewer.createOffer())
        view = await room.host.client.post(
            f"/api/v1/media/rooms/{room.id}/stage/guests/{guest_id}/view",
            content=viewer.localDescription.sdp.encode(),
            headers={"content-type": "application/sdp"},
        )
        assert view.status_code == 201, view.text
        await viewer.setRemoteDescription(RTCSessionDescription(sdp=view.text, type="answer"))
        video = next(track for track in seen if track.kind == "video")
        async with asyncio.timeout(30):
            picture = await video.recv()
        r, g, b = picture.to_ndarray(format="rgb24")[120, 160]
        assert is_colour((int(r), int(g), int(b)), BLUE)
        stopped = await room.host.client.delete(view.headers["location"])
        assert stopped.status_code == 204
        await close_peer(viewer)
        viewer = RTCPeerConnection()  # a view that asks for the picture only is answered with the picture only
        viewer.addTransceiver("video", direction="recvonly")
        await viewer.setLocalDescription(await viewer.createOffer())
        video_only = await room.host.client.post(
            f"/api/v1/media/rooms/{room.id}/stage/guests/{guest_id}/view",
            content=viewer.localDescription.sdp.encode(),
            headers={"content-type": "application/sdp"},
        )
        assert video_only.status_code == 201, video_only.text
        assert "m=audio" not in video_only.text
    finally:
        await close_peer(viewer)
        await close_peer(guest)


async def test_embedded_mode_has_no_stage_tickets(client: Any, media: Media, make_room: Any) -> None:
    room = await make_room()
    assert media.janus_stage is None
    response = await room.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/ticket")
    assert response.status_code == 404 and response.json()["error"]["code"] == "media.webrtc_off"
