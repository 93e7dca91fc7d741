"""连麦 in Janus scaled mode against a real Janus of the test's own: a red host (WHIP) and a blue guest (scripted
aiortc) are each published once into the room's stage videoroom, a subscriber with a stage ticket receives the
guest's blue picture through Janus, a viewer's ticket does not open the stage videoroom, stage tickets go only to
the host and to a guest on the stage, and a guest who leaves takes their publisher (and, the last one, the
stage videoroom) away.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.janus_gateway import JanusServer, participants

from knowcast.media import janus
from knowcast.media.janus import JanusClient, JanusRefused
from knowcast.media.janus_program import videoroom_of
from knowcast.media.janus_stage import HOST, STAGE
from knowcast.media.runtime import Media
from knowcast.media.webrtc import close_peer
from knowcast.settings import Settings
from tests.media.conftest import eventually, room_state
from tests.media.test_janus import JanusViewer
from tests.media.test_stage import BLUE, RED, invite, is_colour, join
from tests.media.whip_client import whip_offer, whip_publish

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def settings(settings: Settings, janus_gateway: JanusServer) -> Settings:
    return settings.model_copy(update=janus_gateway.settings())


def centre(picture: Any) -> tuple[int, int, int]:
    rgb = picture.to_ndarray(format="rgb24")
    r, g, b = (int(v) for v in rgb[rgb.shape[0] // 2, rgb.shape[1] // 2])
    return r, g, b


async def test_the_stage_is_published_once_into_janus_and_watched_there_with_stage_tickets_only(
    client: Any, media: Media, settings: Settings, make_room: Any, janus_gateway: JanusServer
) -> None:
    room = await make_room()
    stranger = await make_room()  # another room's host
    stage_room, _ = videoroom_of(settings.secret_key, room.id, STAGE)
    program_room, _ = videoroom_of(settings.secret_key, room.id)
    assert stage_room != program_room
    host = await whip_offer(rgb=RED)
    peers = [host]
    viewer: JanusViewer | None = None
    try:
        response = await whip_publish(client, f"/whip/rooms/{room.id}", room.stream_key, host)
        assert response.status_code == 201, response.text

        async def live() -> bool:
            return await room_state(client, room.id) == "live"

        await eventually(live, timeout=60, what="the host to go live")
        before = await room.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/ticket")
        assert before.status_code == 404 and before.json()["error"]["code"] == "media.not_publishing"

        made = await invite(room, name="Dr. Blue")
        joined, guest = await join(client, made["token"])
        peers.append(guest)
        assert joined.status_code == 201, joined.text
        guest_location = joined.headers["location"]
        guest_id = guest_location.rsplit("/", 1)[1]

        async def both_in_janus() -> list[dict[str, Any]] | None:
            inside = await participants(janus_gateway, stage_room)
            displays = sorted(p["display"] for p in inside or [] if p["publisher"])
            return inside if displays == sorted([HOST, f"guest:{guest_id}"]) else None

        inside = await eventually(both_in_janus, timeout=60, what="the host and the guest in the stage videoroom")
        assert len(inside) == 2  # each published once

        # the host console's ticket: the stage videoroom, both feeds
        response = await room.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/ticket")
        assert response.status_code == 200, response.text
        ticket = response.json()
        assert ticket["room"] == stage_room and ticket["url"] == janus_gateway.url
        assert janus.token_valid(
            janus_gateway.token_secret, ticket["room_token"], janus.VIDEOROOM, f"room={stage_room}"
        )
        feeds = {f["display"]: f["feed"] for f in ticket["feeds"]}
        assert feeds == {p["display"]: p["id"] for p in inside}

        # the guest's ticket: the same videoroom, asked with their session's id
        mine = await client.post(f"{guest_location}/ticket")
        assert mine.status_code == 200, mine.text
        assert mine.json()["room"] == stage_room and {f["feed"] for f in mine.json()["feeds"]} == set(feeds.values())

        # who may not have one: anonymous, another room's host, an unknown guest session
        nobody = await client.post(f"/api/v1/media/rooms/{room.id}/stage/ticket")
        assert nobody.status_code == 401, nobody.text
        other = await stranger.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/ticket")
        assert other.status_code == 403 and other.json()["error"]["code"] == "room.not_host", other.text
        unknown = await client.post("/whip/stage/not-a-guest/ticket")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "media.no_session"

        # a viewer's ticket is for the program's videoroom: Janus refuses it at the stage's
        secret = janus_gateway.token_secret
        probe = JanusClient(janus_gateway.url, lambda: janus.core_token(secret, 60))
        try:
            session = await probe.session()
            handle = await session.attach()
            join_stage = {"request": "join", "ptype": "subscriber", "room": stage_room}
            join_stage |= {"streams": [{"feed": feeds[f"guest:{guest_id}"]}]}
            join_stage["token"] = janus.room_token(secret, program_room, 60)
            with pytest.raises(JanusRefused) as refused:
                await handle.message(join_stage)
            assert refused.value.janus_code == 433
            await session.destroy()
        finally:
            await probe.close()

        # a subscriber with the stage ticket sees the guest's blue through Janus, and the host's red
        viewer = JanusViewer(ticket | {"feed": feeds[f"guest:{guest_id}"]})
        await viewer.watch()

        async def blue() -> bool:
            return len(viewer.pictures) >= 10 and is_colour(centre(viewer.pictures[-1]), BLUE)

        await eventually(blue, timeout=90, what="the guest's blue picture through Janus")
        await viewer.close()
        viewer = JanusViewer(ticket | {"feed": feeds[HOST]})
        await viewer.watch()

        async def red() -> bool:
            return len(viewer.pictures) >= 10 and is_colour(centre(viewer.pictures[-1]), RED)

        await eventually(red, timeout=90, what="the host's red picture through Janus")
        await viewer.close()
        viewer = None
        assert media.janus_stage is not None and list(media.janus_stage.rooms) == [room.id]

        # the host removes the guest: their publisher goes, and with the last guest the stage videoroom
        removed = await room.host.client.delete(f"/api/v1/media/rooms/{room.id}/stage/guests/{guest_id}")
        assert removed.status_code == 204, removed.text

        async def stage_gone() -> bool:
            return await participants(janus_gateway, stage_room) is None

        await eventually(stage_gone, timeout=30, what="the stage videoroom destroyed with its last guest")
        assert not media.janus_stage.rooms
        after = await room.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/ticket")
        assert after.status_code == 404 and after.json()["error"]["code"] == "media.not_publishing"
        gone = await client.post(f"{guest_location}/ticket")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "media.no_session"
    finally:
        if viewer is not None:
            await viewer.close()
        for pc in peers:
            await close_peer(pc)
