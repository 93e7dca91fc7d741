"""Bad input on the live socket: each is answered with a coded error, and nobody else in the room notices."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from knowcast.realtime.hub import Hub
from knowcast.realtime.room import LiveRoom
from tests.realtime.harness import LiveApp, Viewer, open_viewer, token_of


async def expect_error(viewer: Viewer, code: str) -> dict[str, Any]:
    error = await viewer.until(lambda m: m.get("type") == "error")
    assert error["code"] == code, error
    return error


async def test_frames_before_join_are_refused_then_join_works(live: LiveApp, room: Any) -> None:
    viewer = await open_viewer(live, room["id"])
    await viewer.send({"type": "chat", "text": "too early"})
    await expect_error(viewer, "protocol.not_joined")
    await viewer.send({"type": "join", "v": 1})
    assert (await viewer.until(lambda m: m.get("type") == "welcome"))["resumed"] is False


async def test_malformed_and_unknown_frames_get_errors_and_the_socket_stays(live: LiveApp, room: Any) -> None:
    viewer = await open_viewer(live, room["id"], join={})
    await viewer.ws.send("{not json")
    await expect_error(viewer, "protocol.malformed")
    await viewer.ws.send("[1, 2]")
    await expect_error(viewer, "protocol.malformed")
    await viewer.send({"type": "teleport"})
    await expect_error(viewer, "protocol.unknown_type")
    await viewer.send({"type": "like", "count": 10_000})
    await expect_error(viewer, "protocol.malformed")
    await viewer.ws.send(b"\x00\x01binary")
    await expect_error(viewer, "protocol.binary_unsupported")
    await viewer.send({"type": "join", "v": 1})
    await expect_error(viewer, "protocol.already_joined")
    await viewer.send({"type": "like", "count": 3})
    await viewer.until(lambda m: m.get("likes") == 3)  # still in the room


async def test_a_wrong_protocol_version_is_refused(live: LiveApp, room: Any) -> None:
    viewer = await open_viewer(live, room["id"], join={"v": 99})
    assert viewer.welcome["code"] == "protocol.unsupported_version"


async def test_an_oversized_frame_closes_only_that_socket(live: LiveApp, room: Any, make_user: Any) -> None:
    other = await open_viewer(live, room["id"], token_of(await make_user()), join={})
    big = await open_viewer(live, room["id"], join={})
    await big.send({"type": "chat", "text": "x" * 10_000})
    await expect_error(big, "protocol.too_large")
    await big.ws.wait_closed()
    assert big.ws.close_code == 1009
    await other.send({"type": "chat", "text": "still here"})
    await other.chat_text("still here")


async def test_a_flooder_is_muted_and_everyone_else_chats_on(live: LiveApp, room: Any, make_user: Any) -> None:
    flooder = await open_viewer(live, room["id"], token_of(await make_user()), join={})
    calm = await open_viewer(live, room["id"], token_of(await make_user()), join={})
    for n in range(6):
        await flooder.send({"type": "chat", "text": f"spam {n}"})
    limited = await expect_error(flooder, "chat.rate_limited")
    assert limited["retry_after"] == 10 and "10" in limited["message"]
    await expect_error(flooder, "chat.muted")
    await calm.send({"type": "chat", "text": "正常发言"})
    await calm.chat_text("正常发言")
    spam = [line["text"] for m in calm.received for line in m.get("chat", []) if line["text"].startswith("spam")]
    assert spam == ["spam 0", "spam 1", "spam 2"]


async def test_a_message_over_the_length_cap_is_refused(live: LiveApp, room: Any, make_user: Any) -> None:
    viewer = await open_viewer(live, room["id"], token_of(await make_user()), join={})
    await viewer.send({"type": "chat", "text": "长" * 201})
    await expect_error(viewer, "chat.too_long")
    await viewer.send({"type": "chat", "text": "   \n "})
    await expect_error(viewer, "chat.empty")


def _never_reading_client(port: int, room_id: int) -> socket.socket:
    """A raw client with a tiny receive buffer that joins and then never reads again."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /api/v1/rooms/{room_id}/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1024)
    assert response.startswith(b"HTTP/1.1 101")
    join = b'{"type":"join","v":1}'
    sock.sendall(bytes((0x81, 0x80 | len(join))) + b"\0\0\0\0" + join)
    return sock


async def test_a_client_that_never_reads_is_cut_off_and_the_room_goes_on(live: LiveApp, room: Any) -> None:
    hub = live.ctx.runtime(Hub)
    hub.buffer_limit = 65_536
    port = int(live.base.rsplit(":", 1)[1])
    reader = await open_viewer(live, room["id"], join={})
    stuck = await asyncio.to_thread(_never_reading_client, port, room["id"])  # blocking I/O off the server's loop
    live_room: LiveRoom = hub.room(room["id"])
    while len(live_room.conns) < 2:
        await asyncio.sleep(0.01)
    blob = "x" * 32_768
    got: list[int] = []

    async def drain() -> None:
        try:
            while True:
                message = await reader.recv(30)
                got.extend(e["data"]["n"] for e in message.get("events", []))
        except (ConnectionClosed, TimeoutError):
            return

    draining = asyncio.create_task(drain())
    sent, deadline = 0, time.monotonic() + 30  # bounded: the kernel's buffers fill long before this
    while len(live_room.conns) == 2 and time.monotonic() < deadline:
        hub.submit_event(room["id"], "test.big", {"room_id": room["id"], "broadcast": True, "n": sent, "blob": blob})
        await hub.flush()
        sent += 1
        await asyncio.sleep(0.005)  # passes begin at most every 3/4 tick: frames in between ride the next one
    assert len(live_room.conns) == 1, "the stuck client was never cut off"
    hub.submit_event(room["id"], "test.after", {"room_id": room["id"], "broadcast": True, "n": -1})
    await hub.flush()
    while -1 not in got and not draining.done():
        await asyncio.sleep(0.01)
    draining.cancel()
    assert got == [*range(sent), -1]  # the reader received every event, in order
    stuck.close()


async def test_a_lone_surrogate_is_refused_at_intake_and_the_tick_carries_everyone_else(
    live: LiveApp, room: Any, make_user: Any
) -> None:
    """Point 1 of #14: '\\ud800' decoded from a JSON escape once made the whole tick unencodable."""
    poisoner = await open_viewer(live, room["id"], token_of(await make_user()), join={})
    other = await open_viewer(live, room["id"], token_of(await make_user()), join={})
    await poisoner.ws.send('{"type":"chat","text":"bad \\ud800"}')
    await expect_error(poisoner, "protocol.malformed")
    await poisoner.ws.send('{"type":"chat","text":"ok","cid":"\\udfff"}')
    await expect_error(poisoner, "protocol.malformed")
    await other.send({"type": "chat", "text": "同一个 tick"})
    await poisoner.chat_text("同一个 tick")
    await other.chat_text("同一个 tick")


async def test_an_item_that_cannot_be_encoded_costs_only_itself_and_is_counted(live: LiveApp, room: Any) -> None:
    """Behind intake, the hub encodes each item when it is accepted: a bad one is refused alone, the rest of
    the tick goes out, and /metrics counts the refusal."""
    hub = live.ctx.runtime(Hub)
    viewer = await open_viewer(live, room["id"], join={})
    assert hub.submit_chat(room["id"], {"id": "a", "text": "前一条", "at": 0})
    assert not hub.submit_chat(room["id"], {"id": "b", "text": "bad \ud800", "at": 0})
    assert not hub.submit_event(room["id"], "test.odd", {"room_id": room["id"], "value": object()})
    assert hub.submit_event(room["id"], "test.fine", {"room_id": room["id"], "n": 1})
    assert hub.submit_chat(room["id"], {"id": "c", "text": "后一条", "at": 0})
    await hub.flush()
    tick = await viewer.until(lambda m: m.get("type") == "tick" and bool(m.get("chat")))
    assert [line["text"] for line in tick["chat"]] == ["前一条", "后一条"]
    assert [event["name"] for event in tick["events"]] == ["test.fine"]
    async with httpx.AsyncClient(base_url=live.base) as client:
        metrics = (await client.get("/metrics")).text
    assert 'knowcast_realtime_failures_total{stage="encode"} 2.0' in metrics
    assert 'knowcast_realtime_failures_total{stage="publish"} 0.0' in metrics


async def test_a_failing_room_or_event_does_not_take_the_others_down(live: LiveApp, room: Any, host: Any) -> None:
    """One room's failed publish and one event that cannot be folded in: everything else is still delivered."""
    hub = live.ctx.runtime(Hub)
    second = await host.client.post(
        "/api/v1/rooms", json={"title": "另一个直播间", "scheduled_at": "2030-01-01T08:00:00+00:00"}
    )
    viewer = await open_viewer(live, room["id"], join={})
    publish = hub.backend.publish

    async def failing_for_the_second_room(room_id: int, *args: Any) -> None:
        if room_id == second.json()["id"]:
            raise ConnectionError("the fan-out is away for this room")
        await publish(room_id, *args)

    hub.backend.publish = failing_for_the_second_room  # type: ignore[method-assign]
    hub.submit_chat(second.json()["id"], {"id": "x", "text": "lost", "at": 0})
    # a hidden-line event whose data the room cannot fold in (order_ids is not iterable)
    hub.submit_event(room["id"], "chat.hidden", {"room_id": room["id"], "message_id": "m", "order_ids": 5})
    hub.submit_chat(room["id"], {"id": "y", "text": "送达", "at": 0})
    await hub.flush()
    tick = await viewer.until(lambda m: m.get("type") == "tick" and bool(m.get("chat")))
    assert [line["text"] for line in tick["chat"]] == ["送达"]
    assert hub.failures["publish"] == 1 and hub.failures["apply"] == 1
    assert [line["text"] for line in hub.room(room["id"]).chat] == ["送达"]


async def test_a_deeply_nested_frame_is_malformed_not_a_server_error(live: LiveApp, room: Any) -> None:
    """Point 2 of #14: a thousand levels of nesting (under 4 KB) once closed the socket with 1011."""
    viewer = await open_viewer(live, room["id"], join={})
    for deep in ("[" * 1000 + "]" * 1000, '{"a":' * 600 + "1" + "}" * 600):
        assert len(deep) < 4096
        await viewer.ws.send(deep)
        await expect_error(viewer, "protocol.malformed")
    await viewer.send({"type": "like", "count": 2})
    await viewer.until(lambda m: m.get("likes") == 2)  # still in the room
