"""The hub's pieces on their own: protocol parsing, per-tick batching of likes, presence from heartbeats."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from typing import Any

import pytest

from knowcast.errors import KnowcastError
from knowcast.realtime import frames, protocol
from knowcast.realtime import room as room_module
from knowcast.realtime.connection import Connection
from knowcast.realtime.heap import HeapKeeper
from knowcast.realtime.room import BIG_ROOM, CHAT_PER_TICK, COUNT_ONLY_EVERY, SLICE, LiveRoom


class FakeTransport:
    """Stands in for the socket: these tests are about bookkeeping, not I/O (the live tests cover the socket)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.buffered = 0
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


def conn(room_id: int = 1, user_id: int | None = None) -> Connection:
    return Connection(FakeTransport(), room_id=room_id, user_id=user_id, buffer_limit=100)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("nope", "protocol.malformed"),
        ('{"type": 3}', "protocol.malformed"),
        ('{"type": "dance"}', "protocol.unknown_type"),
        ('{"type": "join", "v": 2}', "protocol.unsupported_version"),
        ('{"type": "join", "last_seq": -1}', "protocol.malformed"),
        ('{"type": "join", "last_seq": true}', "protocol.malformed"),
        ('{"type": "chat", "text": 5}', "protocol.malformed"),
        ('{"type": "chat", "text": "hi", "cid": ""}', "protocol.malformed"),
        ('{"type": "like", "count": 0}', "protocol.malformed"),
        ('{"type": "join", "events": []}', "protocol.malformed"),
        ('{"type": "track", "events": [{}], "ack": 1}', "protocol.malformed"),
        ("x" * 5000, "protocol.too_large"),
        (b"\x00", "protocol.binary_unsupported"),
    ],
)
def test_bad_client_frames_have_codes(raw: Any, code: str) -> None:
    with pytest.raises(KnowcastError) as caught:
        protocol.parse(raw)
    assert caught.value.code == code


def test_good_client_frames() -> None:
    assert protocol.parse('{"type":"join","v":1,"last_seq":5}') == protocol.Join(last_seq=5)
    assert protocol.parse('{"type":"chat","text":"你好","cid":"a1"}') == protocol.Chat("你好", "a1")
    assert protocol.parse('{"type":"like"}') == protocol.Like(1)
    assert protocol.parse('{"type":"heartbeat"}') == protocol.Heartbeat()
    start = {"kind": "view_start", "room_id": 1, "view_id": "v"}
    joined = protocol.parse(json.dumps({"type": "join", "v": 1, "events": [start]}))
    assert joined == protocol.Join(track=protocol.Track(events=(start,)))
    assert protocol.parse(json.dumps({"type": "track", "events": [start], "ack": True})) == protocol.Track(
        (start,), True
    )


def test_frames_encode_every_length_class() -> None:
    for size, header in ((10, 2), (200, 4), (70_000, 10)):
        data = frames.frame(b"x" * size)
        assert data[0] == 0x81 and len(data) == size + header


def test_likes_are_aggregated_into_one_tick() -> None:
    room = LiveRoom(1)
    for _ in range(50):
        room.pending_likes += 2
    batch = room.take_batch()
    assert batch is not None and batch[1] == 100 and batch[0]["likes_delta"] == 100
    assert room.take_batch() is None  # nothing new: no frame


def test_chat_beyond_the_tick_cap_is_sampled_but_events_are_not() -> None:
    room = LiveRoom(1)
    for n in range(CHAT_PER_TICK + 30):
        room.add_chat({"id": str(n), "text": "x"})
    for n in range(300):
        room.add_event("order.paid", {"n": n})
    payload, _, _ = room.take_batch() or ({}, 0, b"")
    assert len(payload["chat"]) == CHAT_PER_TICK and payload["chat_dropped"] == 30
    assert len(payload["events"]) == 300


def test_presence_counts_heartbeats_not_sockets() -> None:
    room = LiveRoom(1)
    quiet, active = conn(user_id=1), conn(user_id=2)
    second_tab = conn(user_id=2)
    for c in (quiet, active, second_tab):
        room.attach(c)
    assert room.sweep(now=room.present[quiet.key], timeout=45) == 2  # two people, three sockets
    later = room.present[quiet.key] + 60
    room.heartbeat(active, later)
    assert room.sweep(now=later, timeout=45) == 1  # the quiet socket is open but no longer counted
    room.detach(active)
    assert room.sweep(now=later, timeout=45) == 1  # the second tab still heartbeats for user 2
    room.detach(second_tab)
    assert room.sweep(now=later, timeout=45) == 0


def test_peak_holds_the_highest_count() -> None:
    room = LiveRoom(1)
    room.set_viewers(5, 5)
    room.set_viewers(3, 5)
    assert (room.viewers, room.peak) == (3, 5)


def test_a_big_rooms_count_alone_goes_out_every_few_seconds_and_rides_any_other_tick(monkeypatch: Any) -> None:
    """A tick with nothing but a changed count is a write to every socket: below BIG_ROOM every presence round
    sends it, from BIG_ROOM on at most every COUNT_ONLY_EVERY seconds, unless something else goes out anyway."""
    clock = {"now": 1000.0}
    monkeypatch.setattr(room_module.time, "monotonic", lambda: clock["now"])
    small = LiveRoom(1)
    for second, count in enumerate((10, 12, 15)):
        clock["now"] = 1000.0 + second
        small.set_viewers(count, count)
        batch = small.take_batch()
        assert batch is not None and batch.payload["viewers"] == count  # every round, as before
    big = LiveRoom(2)
    clock["now"] = 2000.0
    big.set_viewers(BIG_ROOM + 5, BIG_ROOM + 5)
    first = big.take_batch()
    assert first is not None and first.payload["viewers"] == BIG_ROOM + 5
    clock["now"] += 1
    big.set_viewers(BIG_ROOM + 9, BIG_ROOM + 9)
    assert big.take_batch() is None  # a second later, the count alone waits
    big.add_chat({"id": "c1", "text": "来了"})
    riding = big.take_batch()
    assert riding is not None and riding.payload["viewers"] == BIG_ROOM + 9  # on a tick that goes out anyway
    clock["now"] += 1
    big.set_viewers(BIG_ROOM + 20, BIG_ROOM + 20)
    assert big.take_batch() is None
    clock["now"] += COUNT_ONLY_EVERY
    due = big.take_batch()
    assert due is not None and due.payload == {"type": "tick", "viewers": BIG_ROOM + 20, "peak": BIG_ROOM + 20}
    assert big.take_batch() is None  # nothing changed since


def test_a_slow_consumer_is_aborted_and_dropped_from_the_room() -> None:
    room = LiveRoom(1)
    fast, slow = conn(), conn()
    room.attach(fast)
    room.attach(slow)
    slow.transport.buffered = 1000  # type: ignore[attr-defined]
    room.apply(1, 0, {"type": "tick"}, b"frame")
    room.broadcast()
    assert list(room.conns) == [fast.id] and slow.transport.aborted  # type: ignore[attr-defined]
    assert fast.transport.written == [b"frame"]  # type: ignore[attr-defined]


def test_resume_window() -> None:
    room = LiveRoom(1, history=3)
    for seq in range(1, 6):
        room.apply(seq, 0, {"type": "tick"}, f"f{seq}".encode())
    assert room.frames_after(5) == []
    assert room.frames_after(3) == [b"f4", b"f5"]
    assert room.frames_after(2) == [b"f3", b"f4", b"f5"]
    assert room.frames_after(1) is None  # frame 2 is no longer kept: a fresh snapshot instead
    assert room.frames_after(9) is None


def written_seqs(c: Connection) -> list[int]:
    """The sequence numbers a fake socket received, in order (frames here are b"f<seq>;")."""
    data = b"".join(c.transport.written)  # type: ignore[attr-defined]
    return [int(part[1:]) for part in data.split(b";") if part]


def tick(room: LiveRoom) -> None:
    seq = room.seq + 1
    room.apply(seq, 0, {"type": "tick"}, f"f{seq};".encode())
    room.broadcast()


async def test_a_big_room_is_written_in_slices_and_every_viewer_gets_every_frame_once_in_order() -> None:
    room = LiveRoom(1)
    viewers = [conn() for _ in range(SLICE * 3 + 7)]
    for c in viewers:
        room.attach(c)
    tick(room)
    reached = [c for c in viewers if c.transport.written]  # type: ignore[attr-defined]
    assert len(reached) == SLICE  # the rest wait for later turns of the event loop
    await asyncio.sleep(0)
    tick(room)  # sequenced while the first frame is still being written
    late = conn()
    room.attach(late)  # its welcome holds frames 1 and 2
    for _ in range(20):
        await asyncio.sleep(0)
    assert all(written_seqs(c) == [1, 2] for c in viewers)
    assert late.transport.written == []  # type: ignore[attr-defined]
    # viewers the first pass had not reached got both frames in one write
    assert len(viewers[-1].transport.written) == 1 and len(viewers[0].transport.written) == 2  # type: ignore[attr-defined]
    tick(room)
    for _ in range(10):
        await asyncio.sleep(0)
    assert all(written_seqs(c) == [1, 2, 3] for c in viewers) and written_seqs(late) == [3]


def test_a_viewer_behind_what_the_room_keeps_is_cut_off_to_resume() -> None:
    room = LiveRoom(1, history=2)
    behind, current = conn(), conn()
    room.attach(behind)
    for seq in range(1, 4):  # three frames while only two are kept
        room.apply(seq, 0, {"type": "tick"}, f"f{seq};".encode())
    room.attach(current)
    current.sent_seq = 2
    room.broadcast()
    assert behind.transport.aborted and list(room.conns) == [current.id]  # type: ignore[attr-defined]
    assert written_seqs(current) == [3]


class Cyclic:
    def __init__(self, held: object) -> None:
        self.held = held
        self.me = self


def test_the_heap_keeper_freezes_while_a_crowd_is_connected_and_thaws_when_it_has_gone() -> None:
    keeper = HeapKeeper(min_sockets=10)
    try:
        keeper.observe(9)
        assert gc.get_freeze_count() == 0 and not keeper.frozen
        keeper.observe(10)
        assert keeper.frozen and gc.get_freeze_count() > 0
        survivor = [object()]  # a container that outlives a young collection
        keep = [Cyclic(None)]
        freed = weakref.ref(keep[0])
        keeper.observe(6)
        assert all(o is not survivor for o in gc.get_objects()) and keeper.frozen  # frozen: not walked
        keep.clear()  # now a cycle among the frozen: only a thawing pass can free it
        keeper.observe(6)
        assert freed() is not None
        keeper.observe(4)  # below half of min_sockets: one full pass over everything, its survivors settled
        assert not keeper.frozen and freed() is None
        assert all(o is not survivor for o in gc.get_objects())  # still alive, back out of the young passes
        keeper.observe(9)
        assert not keeper.frozen  # the collector's defaults until the next crowd
    finally:
        gc.unfreeze()


def test_the_heap_keeper_settles_what_startup_made_out_of_every_later_pass() -> None:
    made_at_startup = [object()]
    try:
        HeapKeeper(min_sockets=0).settle()  # off: the collector's defaults, nothing frozen
        assert gc.get_freeze_count() == 0
        HeapKeeper(min_sockets=10).settle()
        assert gc.get_freeze_count() > 0 and all(o is not made_at_startup for o in gc.get_objects())
    finally:
        gc.unfreeze()


async def test_passes_begin_at_most_once_per_pass_every_and_carry_every_frame_since() -> None:
    room = LiveRoom(1, pass_every=0.05)
    viewer = conn()
    room.attach(viewer)
    tick(room)
    tick(room)  # a second process's tick, right after: it waits for the next pass
    tick(room)
    assert viewer.transport.written == [b"f1;"]  # type: ignore[attr-defined]
    await asyncio.sleep(0.08)
    assert viewer.transport.written == [b"f1;", b"f2;f3;"]  # type: ignore[attr-defined]
    assert written_seqs(viewer) == [1, 2, 3]


def test_an_accounts_purge_removes_its_lines_and_the_lines_announcing_its_orders() -> None:
    room = LiveRoom(1)
    room.add_chat({"id": "m1", "user_id": 7, "text": "我要买"})
    room.add_chat({"id": "m2", "user_id": 8, "text": "好课"})
    room.add_event("order.announced", {"system": True, "text": "小李 买了《理财课》", "order_id": 3})
    room.add_event("flash.started", {"system": True, "text": "秒杀开始"})
    payload, likes, _ = room.take_batch() or ({}, 0, b"")
    room.apply(1, likes, payload, b"frame")
    assert [line.get("text") for line in room.chat] == ["我要买", "好课", "小李 买了《理财课》", "秒杀开始"]

    room.hide("m2")  # a moderator hides one line: system lines stay
    assert [line.get("text") for line in room.chat] == ["我要买", "小李 买了《理财课》", "秒杀开始"]
    room.hide(None, 7, [3])  # account 7 deleted: its line and its order's line go, and so does the kept event
    assert [line.get("text") for line in room.chat] == ["秒杀开始"]
    assert [event["name"] for event in room.recent_events()] == ["flash.started"]
