"""A moderator's hide reaches the replay: the hidden line leaves the room's timeline, and a purge takes every
line of its author in that room (as the live room does); other rooms' timelines and other lines stay."""

from __future__ import annotations

from typing import Any

from knowcast.bus import Event
from knowcast.media.playlist import Variant
from knowcast.media.runtime import Media


def _chat(room_id: int, message_id: str, user_id: int, text: str) -> Event:
    data = {"room_id": room_id, "message_id": message_id, "user_id": user_id, "name": f"观众{user_id}", "text": text}
    return Event("chat.message", data)


async def test_hidden_lines_leave_the_replay_timeline(ctx: Any, media: Media, make_room: Any) -> None:
    room, other = await make_room(), await make_room()
    for r in (room, other):
        media.store.write_variants(r.id, [Variant("src", 1)])  # rooms with video keep a timeline
    for event in (
        _chat(room.id, "m1", 7, "老师好"),
        _chat(room.id, "m2", 8, "广告链接"),
        _chat(room.id, "m3", 9, "刷屏一"),
        _chat(room.id, "m4", 9, "刷屏二"),
        _chat(other.id, "m5", 9, "别的房间"),
        Event("flash.started", {"room_id": room.id, "text": "秒杀开始"}, to_room=True, system=True),
    ):
        await ctx.bus.publish(event)
    hide = {"room_id": room.id, "by": 1}
    await ctx.bus.publish(Event("chat.hidden", {**hide, "message_id": "m2"}, to_room=True))
    assert [i.text for i in media.timeline.items(room.id)] == ["老师好", "刷屏一", "刷屏二", "秒杀开始"]
    await ctx.bus.publish(Event("chat.hidden", {**hide, "message_id": "m3", "user_id": 9, "purge": True}, to_room=True))
    assert [i.text for i in media.timeline.items(room.id)] == ["老师好", "秒杀开始"]
    assert [i.text for i in media.timeline.items(other.id)] == ["别的房间"]
    await ctx.bus.publish(Event("chat.hidden", {**hide, "message_id": "no-such-line"}, to_room=True))
    assert len(media.timeline.items(room.id)) == 2
