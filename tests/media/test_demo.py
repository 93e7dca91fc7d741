"""The demo room goes live by itself from the synthetic stream (test pattern, tone, burned-in clock)."""

from __future__ import annotations

from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.media import demo
from knowcast.rooms import service as rooms
from knowcast.rooms.schemas import RoomCreate
from knowcast.settings import Settings
from tests.media.conftest import eventually, room_state


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"demo_stream_room": 1})


async def test_the_demo_stream_puts_its_room_live(client: Any, ctx: Any, make_user: Any, app: Any) -> None:
    host = await make_user(Role.HOST)
    async with ctx.db.session() as session:
        room = await rooms.create_room(
            session, ctx, host.user, RoomCreate(title="Demo", scheduled_at="2030-01-01T00:00:00Z")
        )
    stream = next(c for c in ctx.components if isinstance(c, demo.DemoStream))
    stream.room_id = room.id

    async def live() -> bool:
        return await room_state(client, room.id) == "live"

    await eventually(live, timeout=60, what="the demo room to go live from the synthetic stream")
    assert (await client.get(f"/media/rooms/{room.id}/live.m3u8")).status_code == 200


def test_the_clock_is_burned_in_when_a_font_exists() -> None:
    graph = demo.video_graph(bits_offset_ms=1000)
    assert "geq=lum=" in graph
    if demo.clock_font() is not None:
        assert "drawtext=fontfile=" in graph and "%3N" in graph
