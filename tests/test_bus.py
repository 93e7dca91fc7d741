"""The bus envelope: delivery options (to the room, system line, transient, replaces) are fields of the event,
not keys of its payload, and the live protocol's frames are what they were when they were payload keys.

LEGACY holds each room-bound event's ``data`` exactly as its publisher built it before the envelope (copied from
the publishers at commit 9da6a8c); the same event published through the envelope must give the same tick."""

from __future__ import annotations

import json
from typing import Any

import pytest

from knowcast.bus import Event, EventBus
from knowcast.realtime import bridge
from knowcast.realtime.fanout import MemoryFanout
from knowcast.realtime.hub import Hub
from knowcast.realtime.room import LiveRoom

LINE = {"message": "shop.system.bought", "params": {"name": "小李", "title": "理财课"}, "text": "小李 买了《理财课》"}
POLL = {"id": 3, "question": "?", "options": ["a"], "counts": [1], "total": 1, "state": "open"}

# (name, legacy data, envelope event): the first block is byte-identical on the wire
SAME_BYTES: list[tuple[str, dict[str, Any], Event]] = [
    ("shelf.unpinned", {"room_id": 1, "broadcast": True}, Event("shelf.unpinned", {"room_id": 1}, to_room=True)),
    (
        "order.announced",
        {"room_id": 1, "broadcast": True, "system": True, **LINE, "order_id": 9},
        Event("order.announced", {"room_id": 1, **LINE, "order_id": 9}, to_room=True, system=True),
    ),
    (
        "chat.sessions_ended",
        {"room_id": 1, "broadcast": True, "transient": True, "user_id": 5},
        Event("chat.sessions_ended", {"room_id": 1, "user_id": 5}, to_room=True, transient=True),
    ),
    (
        "poll.results",
        {"room_id": 1, "broadcast": True, "poll": POLL, "replaces": "poll:3"},
        Event("poll.results", {"room_id": 1, "poll": POLL}, to_room=True, replaces="poll:3"),
    ),
    (
        "faq.replied",
        {"room_id": 1, "broadcast": True, "system": True, "auto": True, "faq_id": 2, "text": "[自动回复] 有"},
        Event(
            "faq.replied", {"room_id": 1, "auto": True, "faq_id": 2, "text": "[自动回复] 有"}, to_room=True, system=True
        ),
    ),
    (
        "chat.hidden",
        {"room_id": 1, "broadcast": True, "message_id": None, "by": None, "order_ids": [4]},
        Event("chat.hidden", {"room_id": 1, "message_id": None, "by": None, "order_ids": [4]}, to_room=True),
    ),
]
# these three publishers put ``broadcast`` (or ``system``) after other keys: the same JSON, keys in another order
SAME_JSON: list[tuple[str, dict[str, Any], Event]] = [
    (
        "room.live",
        {"room_id": 1, "host_id": 2, "state": "live", "broadcast": True},
        Event("room.live", {"room_id": 1, "host_id": 2, "state": "live"}, to_room=True),
    ),
    (
        "coupon.left",
        {"room_id": 1, "drop_id": 4, "broadcast": True, "left": 2},
        Event("coupon.left", {"room_id": 1, "drop_id": 4, "left": 2}, to_room=True),
    ),
    (
        "flash.sold_out",
        {"room_id": 1, "broadcast": True, "sale_id": 6, "stock_left": 0, "system": True, **LINE},
        Event("flash.sold_out", {"room_id": 1, "sale_id": 6, "stock_left": 0, **LINE}, to_room=True, system=True),
    ),
]


def tick(name: str, data: dict[str, Any]) -> bytes:
    room = LiveRoom(1)
    room.add_event(name, data)
    batch = room.take_batch()
    assert batch is not None
    return batch.body


@pytest.mark.parametrize(("name", "legacy", "event"), SAME_BYTES, ids=[c[0] for c in SAME_BYTES])
def test_the_envelope_sends_the_same_bytes(name: str, legacy: dict[str, Any], event: Event) -> None:
    assert tick(event.name, event.wire()) == tick(name, legacy)


@pytest.mark.parametrize(("name", "legacy", "event"), SAME_JSON, ids=[c[0] for c in SAME_JSON])
def test_the_envelope_sends_the_same_json(name: str, legacy: dict[str, Any], event: Event) -> None:
    assert json.loads(tick(event.name, event.wire())) == json.loads(tick(name, legacy))


def test_delivery_options_are_not_in_the_payload() -> None:
    event = Event("poll.results", {"room_id": 1, "poll": POLL}, to_room=True, system=True, replaces="poll:3")
    assert set(event.data) == {"room_id", "poll"}
    assert set(event.wire()) == {"room_id", "poll", "broadcast", "system", "replaces"}


async def test_the_bridge_forwards_only_events_sent_to_the_room() -> None:
    hub = Hub(MemoryFanout())
    bus = EventBus()
    bridge.connect(bus, hub)
    await bus.publish(Event("order.paid", {"room_id": 1, "order_id": 9}))  # names a buyer: never to the room
    await bus.publish(Event("shelf.unpinned", {"room_id": 1}, to_room=True))
    await bus.publish(Event("shelf.unpinned", {"room_id": True}, to_room=True))  # not a room id
    events = hub.room(1).pending_events
    assert [e["name"] for e, _ in events] == ["shelf.unpinned"]
    assert events[0][0]["data"] == {"room_id": 1, "broadcast": True}
