"""A system line keeps its catalog key and params in the replay's timeline, so the replay page can write it in
each viewer's language (tests/browser/test_room_layout.py reads it in English and Chinese); a line recorded
without them keeps its stored text."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from knowcast.bus import Event
from knowcast.media.playlist import Variant
from knowcast.media.runtime import Media


async def test_system_lines_keep_their_message_key_and_params(ctx: Any, media: Media, make_room: Any) -> None:
    room = await make_room()
    media.store.write_variants(room.id, [Variant("src", 1)])  # rooms with video keep a timeline
    bought = {
        "room_id": room.id,
        "message": "shop.system.bought",
        "params": {"name": "小李", "title": "理财课", "flag": True, "nested": {"no": 1}},
        "text": "小李 买了《理财课》",
        "order_id": 42,
    }
    await ctx.bus.publish(Event("order.announced", bought, to_room=True, system=True))
    await ctx.bus.publish(Event("flash.started", {"room_id": room.id, "text": "秒杀开始"}, to_room=True, system=True))
    new, old = media.timeline.items(room.id)
    assert new.kind == "system" and new.text == "小李 买了《理财课》"
    assert new.data["message"] == "shop.system.bought"
    assert new.data["params"] == {"name": "小李", "title": "理财课"}  # plain values only
    assert new.data["order_id"] == 42  # deleting the buyer's account still finds the line
    assert old.text == "秒杀开始" and "message" not in old.data and "params" not in old.data


async def test_the_replay_page_carries_the_system_line_strings_of_its_language(client: Any, make_room: Any) -> None:
    room = await make_room()
    for language, bought in (("en", "{name} bought {title}"), ("zh-CN", "{name} 买了《{title}》")):
        page = await client.get(f"/rooms/{room.id}/replay", headers={"accept-language": language})
        found = re.search(r"data-strings='([^']*)'", page.text)
        assert found, page.text
        assert json.loads(html.unescape(found.group(1)))["shop.system.bought"] == bought
