"""The live socket end to end over real WebSockets: join, chat fan-out, snapshot, resume, bus events."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.realtime.connection import Connection
from knowcast.realtime.hub import Hub
from tests.realtime.harness import LiveApp, open_viewer, token_of


async def test_viewers_see_each_others_chat_with_seq(live: LiveApp, room: Any, make_user: Any) -> None:
    alice, bob = await make_user(name="Alice"), await make_user(name="Bob")
    a = await open_viewer(live, room["id"], token_of(alice), join={})
    b = await open_viewer(live, room["id"], token_of(bob), join={})
    assert a.welcome["type"] == "welcome" and a.welcome["you"]["can_chat"] is True
    await a.send({"type": "chat", "text": "大家好", "cid": "c1"})
    tick = await b.chat_text("大家好")
    line = next(line for line in tick["chat"] if line["text"] == "大家好")
    assert line["name"] == "Alice" and line["user_id"] == alice.user.id and line["cid"] == "c1"
    assert tick["seq"] == b.welcome["seq"] + 1
    await a.chat_text("大家好")  # the sender sees their own line in the same frame


async def test_host_lines_carry_a_badge(live: LiveApp, room: Any, host: Any) -> None:
    h = await open_viewer(live, room["id"], token_of(host), join={})
    assert h.welcome["you"]["badge"] == "host" and h.welcome["you"]["can_moderate"] is True
    await h.send({"type": "chat", "text": "欢迎"})
    tick = await h.chat_text("欢迎")
    assert tick["chat"][0]["badge"] == "host"


async def test_anonymous_viewer_watches_but_cannot_chat(live: LiveApp, room: Any) -> None:
    anon = await open_viewer(live, room["id"], join={"visitor": "abc123"})
    assert anon.welcome["you"]["can_chat"] is False
    await anon.send({"type": "chat", "text": "hi"})
    error = await anon.until(lambda m: m.get("type") == "error")
    assert error["code"] == "chat.signin_required"


async def test_snapshot_carries_recent_chat_and_counts(live: LiveApp, room: Any, make_user: Any) -> None:
    alice = await make_user()
    a = await open_viewer(live, room["id"], token_of(alice), join={})
    await a.send({"type": "chat", "text": "第一条"})
    await a.send({"type": "like", "count": 7})

    def said() -> bool:  # the line and the likes may come in one tick or in two
        return any(line["text"] == "第一条" for frame in a.received for line in frame.get("chat", []))

    await a.until(lambda m: m.get("likes") == 7 and said())
    late = await open_viewer(live, room["id"], join={})
    snapshot = late.welcome["snapshot"]
    assert [line["text"] for line in snapshot["chat"]] == ["第一条"]
    assert snapshot["likes"] == 7
    assert snapshot["poll"] is None and snapshot["questions"] == [] and snapshot["slow_mode"] == 0
    assert late.welcome["seq"] == a.seqs[-1]


async def test_resume_after_reconnect_has_no_gap_and_no_duplicate(live: LiveApp, room: Any, make_user: Any) -> None:
    alice, bob = await make_user(), await make_user()  # two senders: each stays under the flood rule
    sender = await open_viewer(live, room["id"], token_of(alice), join={})
    other = await open_viewer(live, room["id"], token_of(bob), join={})
    watcher = await open_viewer(live, room["id"], join={})
    await sender.send({"type": "chat", "text": "before"})
    await watcher.chat_text("before")
    last = watcher.seqs[-1]
    await watcher.close()
    for text in ("while away 1", "while away 2"):
        await sender.send({"type": "chat", "text": text})
        await sender.chat_text(text)
    back = await open_viewer(live, room["id"], join={"last_seq": last})
    assert back.welcome["resumed"] is True and back.welcome["seq"] == last
    await back.chat_text("while away 2")
    await other.send({"type": "chat", "text": "after"})
    await back.chat_text("after")
    assert back.seqs == list(range(last + 1, last + 1 + len(back.seqs)))  # consecutive: no gap, no duplicate
    texts = [line["text"] for m in back.received for line in m.get("chat", [])]
    assert texts == ["while away 1", "while away 2", "after"]


async def test_resume_from_unknown_position_gets_a_fresh_snapshot(live: LiveApp, room: Any) -> None:
    back = await open_viewer(live, room["id"], join={"last_seq": 999_999})
    assert back.welcome["resumed"] is False and "snapshot" in back.welcome


async def test_broadcast_bus_events_reach_the_room_and_system_lines_show(live: LiveApp, room: Any) -> None:
    viewer = await open_viewer(live, room["id"], join={})
    bus = live.ctx.bus
    await bus.publish(Event("commerce.private", {"room_id": room["id"], "secret": 1}))
    data = {"room_id": room["id"], "text": "小王 买了《理财课》"}
    await bus.publish(Event("order.paid", data, to_room=True, system=True))
    tick = await viewer.until(lambda m: bool(m.get("events")))
    assert [e["name"] for e in tick["events"]] == ["order.paid"]
    assert tick["events"][0]["data"]["text"] == "小王 买了《理财课》"
    late = await open_viewer(live, room["id"], join={})
    lines = late.welcome["snapshot"]["chat"]
    assert lines[-1]["system"] is True and lines[-1]["text"] == "小王 买了《理财课》"
    assert [e["name"] for e in late.welcome["snapshot"]["events"]] == ["order.paid"]


async def test_ticket_room_refuses_an_anonymous_socket(live: LiveApp, make_user: Any) -> None:
    host = await make_user(Role.HOST)
    response = await host.client.post(
        "/api/v1/rooms", json={"title": "付费课", "scheduled_at": "2030-01-01T00:00:00Z", "access_mode": "ticket"}
    )
    viewer = await open_viewer(live, response.json()["id"])
    error = await viewer.recv()
    assert error["type"] == "error" and error["code"] == "room.ticket_required"
    await viewer.ws.wait_closed()
    assert viewer.ws.close_code == 4401


async def test_a_cross_site_page_cannot_open_the_socket(live: LiveApp, room: Any) -> None:
    import websockets

    try:
        await open_viewer(live, room["id"], Origin="https://evil.example")
    except websockets.exceptions.InvalidStatus as exc:
        assert exc.response.status_code == 403
    else:
        raise AssertionError("the cross-site socket was accepted")


async def test_unknown_room_is_refused(live: LiveApp) -> None:
    viewer = await open_viewer(live, 424242)
    assert (await viewer.recv())["code"] == "room.not_found"


async def test_a_departed_viewer_leaves_no_cyclic_garbage_of_ours(live: LiveApp, room: Any, make_user: Any) -> None:
    """The heap keeper freezes what lives long (realtime/heap.py); that stays leak-free only as long as a
    viewer who leaves is freed by reference counting alone, with no reference cycle through our objects."""
    alice = await make_user(name="Alice")
    gc.collect()
    connections = sum(isinstance(o, Connection) for o in gc.get_objects())
    gc.set_debug(gc.DEBUG_SAVEALL)  # from here on, what the collector finds is kept for inspection
    try:
        viewers = [await open_viewer(live, room["id"], token_of(alice) if n == 0 else None, join={}) for n in range(3)]
        await viewers[0].send({"type": "chat", "text": "再见"})
        await viewers[1].chat_text("再见")
        await viewers[2].send({"type": "nonsense"})  # an error frame on the way too
        for viewer in viewers:
            await viewer.close()
        live_room = live.ctx.runtime(Hub).room(room["id"])
        while live_room.conns:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        gc.collect()
        ours = [type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("knowcast.realtime")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []
    assert sum(isinstance(o, Connection) for o in gc.get_objects()) <= connections  # none is kept alive either
