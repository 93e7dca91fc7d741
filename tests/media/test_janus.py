"""Janus scaled mode against a real Janus of the test's own (benchmarks/janus_gateway.py): signed tokens as Janus
checks them, the program published once into the room's videoroom while the room is live and gone when it ends,
the tickets Knowcast gives viewers, and an aiortc viewer watching the program through Janus (ICE over loopback).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from benchmarks.janus_gateway import JanusServer, free_port, participants

from knowcast.errors import ConfigError
from knowcast.media import janus
from knowcast.media.janus import JanusClient, JanusRefused, JanusUnreachable
from knowcast.media.janus_program import PROGRAM, videoroom_of
from knowcast.media.runtime import Media
from knowcast.media.webrtc import close_peer
from knowcast.settings import Settings
from tests.media.conftest import eventually, room_state

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def settings(settings: Settings, janus_gateway: JanusServer) -> Settings:
    return settings.model_copy(update=janus_gateway.settings())


def client_with(server: JanusServer, token: str) -> JanusClient:
    return JanusClient(server.url, lambda: token)


async def refusal(call: Any) -> JanusRefused:
    with pytest.raises(JanusRefused) as caught:
        await call
    return caught.value


# ---- tokens ------------------------------------------------------------------------------------------------------


def test_a_token_names_its_expiry_realm_and_descriptors_and_is_checked_as_janus_checks_it() -> None:
    token = janus.sign_token("s3cret", "janus", ["janus.plugin.videoroom"], 60, now=1_000_000)
    data, _, signature = token.partition(":")
    assert data == "1000060,janus,janus.plugin.videoroom" and len(signature) == 28  # base64 of a SHA-1
    assert janus.token_valid("s3cret", token, "janus", "janus.plugin.videoroom", now=1_000_059)
    assert not janus.token_valid("s3cret", token, "janus", "janus.plugin.videoroom", now=1_000_061)  # expired
    assert not janus.token_valid("other", token, "janus", "janus.plugin.videoroom", now=1_000_000)
    assert not janus.token_valid("s3cret", token, "janus", "janus.plugin.streaming", now=1_000_000)
    assert janus.room_token("s3cret", 42, 60).split(":")[0].endswith(",janus.plugin.videoroom,room=42")


async def test_janus_lets_in_our_tokens_and_refuses_a_wrong_secret_an_expired_token_and_another_room(
    janus_gateway: JanusServer,
) -> None:
    secret = janus_gateway.token_secret
    wrong = client_with(janus_gateway, janus.core_token("not-the-secret", 60))
    expired = client_with(janus_gateway, janus.sign_token(secret, "janus", [janus.VIDEOROOM], -5))
    no_plugin = client_with(janus_gateway, janus.sign_token(secret, "janus", [], 60))
    good = client_with(janus_gateway, janus.core_token(secret, 60))
    try:
        assert (await refusal(wrong.session())).janus_code == 403
        assert (await refusal(expired.session())).janus_code == 403
        session = await no_plugin.session()  # a session is the core's: the plugin is what the token must name
        assert (await refusal(session.attach())).janus_code == 405
        await session.destroy()

        session = await good.session()
        handle = await session.attach()
        janus_room, room_secret = 424242, "room-secret"
        create = {"request": "create", "room": janus_room, "secret": room_secret, "signed_tokens": True}
        assert (await refusal(handle.message(create))).janus_code == 429  # no admin_key: rooms are ours to make
        assert (await refusal(handle.message({**create, "admin_key": "guess"}))).janus_code == 433
        created = await handle.message({**create, "admin_key": janus_gateway.admin_key})
        assert created.data["videoroom"] == "created"
        join = {"request": "join", "ptype": "publisher", "room": janus_room, "display": "x"}
        assert (await refusal(handle.message(join))).janus_code == 433  # no room token
        for token in (
            janus.room_token(secret, janus_room + 1, 60),  # another room's
            janus.room_token("not-the-secret", janus_room, 60),
            janus.sign_token(secret, janus.VIDEOROOM, [f"room={janus_room}"], -5),  # expired
        ):
            assert (await refusal(handle.message({**join, "token": token}))).janus_code == 433, token
        joined = await handle.message({**join, "token": janus.room_token(secret, janus_room, 60)})
        assert joined.data["videoroom"] == "joined"
        await handle.message({"request": "destroy", "room": janus_room, "secret": room_secret})
        await session.destroy()
    finally:
        for client in (wrong, expired, no_plugin, good):
            await client.close()


async def test_an_unreachable_janus_is_a_stable_error() -> None:
    client = JanusClient(f"http://127.0.0.1:{free_port()}/janus", lambda: "any")
    try:
        with pytest.raises(JanusUnreachable) as caught:
            await client.session()
        assert caught.value.code == "media.janus_unreachable" and caught.value.status_code == 503
    finally:
        await client.close()


# ---- the program in Janus ----------------------------------------------------------------------------------------


class JanusViewer:
    """An aiortc subscriber to a ticket's feed, counting what it receives."""

    def __init__(self, ticket: dict[str, Any]) -> None:
        self.ticket = ticket
        self.client = JanusClient(ticket["url"], lambda: str(ticket["token"]))
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pictures: list[VideoFrame] = []
        self.sounds = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", lambda track: self.tasks.append(asyncio.ensure_future(self._take(track))))

    async def _take(self, track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            if isinstance(frame, VideoFrame):
                self.pictures.append(frame)
            elif isinstance(frame, AudioFrame):
                self.sounds += 1

    async def watch(self) -> None:
        self.session = await self.client.session()
        handle = await self.session.attach()
        join = {"request": "join", "ptype": "subscriber", "room": self.ticket["room"]}
        join |= {"streams": [{"feed": self.ticket["feed"]}], "token": self.ticket["room_token"]}
        offer = await handle.message(join)
        assert offer.jsep is not None and offer.jsep["type"] == "offer"
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.jsep["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        started = await handle.message({"request": "start"}, {"type": "answer", "sdp": self.pc.localDescription.sdp})
        assert started.data.get("started") == "ok", started.data
        await handle.trickle(None)  # our candidates were all in the answer: gathering is complete

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await close_peer(self.pc)
        if hasattr(self, "session"):
            await self.session.destroy()
        await self.client.close()


async def test_the_program_is_published_once_into_janus_while_live_and_viewers_watch_it_there(
    client: Any,
    media: Media,
    settings: Settings,
    make_room: Any,
    publish: Any,
    sample_flv: Path,
    janus_gateway: JanusServer,
) -> None:
    room = await make_room()
    janus_room, _ = videoroom_of(settings.secret_key, room.id)
    refused = await client.post(f"/janus/rooms/{room.id}/ticket")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "media.not_publishing"

    await publish(room.stream_key, sample_flv)

    async def is_live() -> bool:
        return await room_state(client, room.id) == "live"

    await eventually(is_live, timeout=60, what="the room to go live")

    async def program_in_janus() -> list[dict[str, Any]] | None:
        inside = await participants(janus_gateway, janus_room)
        return inside if inside and any(p["display"] == PROGRAM and p["publisher"] for p in inside) else None

    inside = await eventually(program_in_janus, timeout=60, what="the program publisher in the Janus room")
    assert len(inside) == 1  # published once

    status = (await client.get(f"/api/v1/media/rooms/{room.id}/status")).json()
    assert status.get("webrtc_via") == "janus", status
    assert status["webrtc_url"] == f"/janus/rooms/{room.id}/ticket"
    response = await client.post(status["webrtc_url"])
    assert response.status_code == 200, response.text
    ticket = response.json()
    assert ticket["url"] == janus_gateway.url and ticket["room"] == janus_room and ticket["feed"] == inside[0]["id"]
    assert janus.token_valid(janus_gateway.token_secret, ticket["token"], "janus", janus.VIDEOROOM)
    assert janus.token_valid(janus_gateway.token_secret, ticket["room_token"], janus.VIDEOROOM, f"room={janus_room}")
    expiry = int(ticket["token"].split(",")[0])
    assert expiry <= time.time() + settings.janus_token_ttl_seconds + 1  # short-lived

    viewers = [JanusViewer(ticket), JanusViewer(ticket)]
    try:
        for viewer in viewers:
            await viewer.watch()

        async def pictures_and_sound() -> bool:
            return all(len(v.pictures) >= 20 and v.sounds >= 20 for v in viewers)

        await eventually(pictures_and_sound, timeout=90, what="pictures and sound through Janus for two viewers")
        assert (viewers[0].pictures[-1].width, viewers[0].pictures[-1].height) == (320, 180)
        assert media.janus is not None and list(media.janus.publications) == [room.id]  # one encode for both
        assert media.whep is not None and media.whep.viewers() == 0  # no viewer costs this process an encode
    finally:
        for viewer in viewers:
            await viewer.close()

    ended = await room.host.client.post(f"/api/v1/rooms/{room.id}/transitions", json={"to": "ended"})
    assert ended.status_code == 200, ended.text

    async def room_gone() -> bool:
        return await participants(janus_gateway, janus_room) is None

    await eventually(room_gone, timeout=30, what="the Janus room to be destroyed with the room's end")
    assert not media.janus.publications
    after = await client.post(f"/janus/rooms/{room.id}/ticket")
    assert after.status_code == 404 and after.json()["error"]["code"] == "media.not_publishing"


async def test_a_ticketed_room_gives_janus_tickets_only_to_whom_may_watch(client: Any, make_room: Any) -> None:
    room = await make_room(access_mode="ticket")
    response = await client.post(f"/janus/rooms/{room.id}/ticket")
    assert response.status_code == 401, response.text


def test_scaled_mode_needs_its_secret_and_admin_key(settings: Settings) -> None:
    base = settings.model_dump() | {"janus_url": "http://127.0.0.1:8088/janus"}
    with pytest.raises(ConfigError, match="KNOWCAST_JANUS_TOKEN_SECRET"):
        Settings(**base | {"janus_token_secret": "", "janus_admin_key": "k"})
    with pytest.raises(ConfigError, match="KNOWCAST_JANUS_URL"):
        Settings(**base | {"janus_url": "janus:8088"})


async def test_pages_may_call_janus_on_its_own_origin(client: Any, settings: Settings, make_room: Any) -> None:
    room = await make_room()
    csp = (await client.get(f"/rooms/{room.id}")).headers["content-security-policy"]
    origin = settings.janus_url.rsplit("/janus", 1)[0]
    assert f"connect-src 'self' {origin} ws: wss:" in csp


async def test_a_restarted_janus_gets_the_program_again_and_viewers_their_tickets(
    client: Any,
    media: Media,
    settings: Settings,
    make_room: Any,
    publish: Any,
    sample_flv: Path,
    janus_gateway: JanusServer,
) -> None:
    room = await make_room()
    janus_room, _ = videoroom_of(settings.secret_key, room.id)
    await publish(room.stream_key, sample_flv)

    async def program_in_janus() -> int | None:
        inside = await participants(janus_gateway, janus_room)
        return next((p["id"] for p in inside or [] if p["display"] == PROGRAM and p["publisher"]), None)

    before = await eventually(program_in_janus, timeout=60, what="the program in the Janus room")
    await asyncio.to_thread(janus_gateway.stop)
    down = await client.post(f"/janus/rooms/{room.id}/ticket")
    assert down.status_code == 503 and down.json()["error"]["code"] == "media.janus_unreachable"
    await asyncio.to_thread(janus_gateway.start)  # a new Janus knows no room: Knowcast must publish again

    after = await eventually(program_in_janus, timeout=60, what="the program back in the restarted Janus")
    assert after != before
    ticket = await client.post(f"/janus/rooms/{room.id}/ticket")
    assert ticket.status_code == 200 and ticket.json()["feed"] == after
    viewer = JanusViewer(ticket.json())
    try:
        await viewer.watch()

        async def pictures() -> bool:
            return len(viewer.pictures) >= 10

        await eventually(pictures, timeout=60, what="pictures through the restarted Janus")
    finally:
        await viewer.close()
