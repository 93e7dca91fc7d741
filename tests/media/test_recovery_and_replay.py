"""No room is left "live" across a server restart, and the replay's data: recording, start time, timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowcast.bus import Event
from knowcast.media.playlist import Variant
from knowcast.media.runtime import Media
from knowcast.rooms import service as rooms
from knowcast.rooms.states import RoomState
from tests.media.conftest import eventually, room_state


async def test_a_room_left_live_by_a_killed_server_reconnects_then_ends_on_restart(
    client: Any, ctx: Any, media: Media, make_room: Any
) -> None:
    """The killed server is simulated by its footprint: the database says live and the media folder exists,
    but no publisher or ffmpeg is running; then the media plane starts as it does when the server comes back."""
    room = await make_room()
    media.store.write_variants(room.id, [Variant("src", 1)])
    async with ctx.db.session() as session:
        await rooms.transition(session, ctx, await rooms.get_room(session, room.id), RoomState.LIVE)
    await media.plane.start()
    assert await room_state(client, room.id) == "reconnecting"

    async def ended() -> bool:
        return await room_state(client, room.id) == "ended"

    await eventually(ended, what="the orphaned room to end after the grace period")


async def test_stopping_the_server_mid_stream_leaves_the_room_reconnecting_not_live(
    client: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    await publish(room.stream_key, sample_flv)

    async def live() -> bool:
        return await room_state(client, room.id) == "live"

    await eventually(live, what="the room to go live")
    await media.plane.stop()
    assert await room_state(client, room.id) == "reconnecting"


async def test_the_replay_has_the_recording_and_the_timeline(
    client: Any, ctx: Any, media: Media, make_room: Any, publish: Any, sample_flv: Path
) -> None:
    room = await make_room()
    publisher = await publish(room.stream_key, sample_flv)

    async def live() -> bool:
        return await room_state(client, room.id) == "live"

    await eventually(live, what="the room to go live")
    await ctx.bus.publish(Event("chat.message", {"room_id": room.id, "name": "Ann", "text": "hello <b>"}))
    await ctx.bus.publish(Event("shelf.pinned", {"room_id": room.id, "product": {"title": "Budget course"}}))
    await ctx.bus.publish(Event("flash.started", {"room_id": room.id, "text": "Flash sale!"}, system=True))
    await ctx.bus.publish(Event("likes.tapped", {"room_id": room.id, "count": 3}))
    await publisher.stop()

    async def ended() -> bool:
        return await room_state(client, room.id) == "ended"

    await eventually(ended, what="the room to end")
    data = (await client.get(f"/api/v1/media/rooms/{room.id}/replay")).json()
    assert data["vod_url"] == f"/media/rooms/{room.id}/vod.m3u8"
    assert data["started_at"] is not None and data["duration_s"] > 0
    assert [(i["kind"], i["text"]) for i in data["items"]] == [
        ("chat", "hello <b>"),
        ("chapter", "Budget course"),
        ("system", "Flash sale!"),
    ]
    page = await client.get(f"/rooms/{room.id}/replay")
    assert page.status_code == 200 and 'data-testid="replay"' in page.text
    status = (await client.get(f"/api/v1/media/rooms/{room.id}/status")).json()
    assert status["state"] == "ended" and status["replay_url"] == f"/rooms/{room.id}/replay"
    room_page = await client.get(f"/rooms/{room.id}")
    assert 'data-player="ended"' in room_page.text and f'href="/rooms/{room.id}/replay"' in room_page.text


async def test_a_ticketed_rooms_replay_is_not_public(client: Any, make_room: Any) -> None:
    room = await make_room(access_mode="ticket")
    assert (await client.get(f"/api/v1/media/rooms/{room.id}/replay")).status_code == 401
    page = await client.get(f"/rooms/{room.id}/replay")
    assert page.status_code == 303 and page.headers["location"] == f"/signin?next=/rooms/{room.id}/replay"
    assert (await room.host.client.get(f"/api/v1/media/rooms/{room.id}/replay")).json()["vod_url"] is None
