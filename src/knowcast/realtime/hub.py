"""The room hub: joins, the per-room tick, presence, and delivery of sequenced frames to local sockets.

Each tick (100–250 ms) every room with something new publishes ONE payload through the fan-out backend; the
backend stamps it with the room's sequence number and likes total and hands it back to the hub of every
process, which encodes it once into a WebSocket frame and writes those same bytes to each local viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import Histogram

from knowcast.realtime import frames, protocol
from knowcast.realtime.connection import Connection
from knowcast.realtime.fanout import FanoutBackend, MemoryFanout
from knowcast.realtime.heap import HeapKeeper
from knowcast.realtime.room import LiveRoom

log = logging.getLogger(__name__)

Applier = Callable[[LiveRoom, str, dict[str, Any]], None]
SnapshotProvider = Callable[[int], Awaitable[dict[str, Any]]]
Tappers = dict[str, tuple[int | None, int]]  # presence key → (user id, taps) within one tick
LikeListener = Callable[[int, Tappers], Awaitable[None]]
# (connection, accounts.service.Identity or None, room row) → the "you" part of the welcome; may refuse by raising
Identify = Callable[[Connection, Any, Any], Awaitable[dict[str, Any]]]
ChatHandler = Callable[[Connection, protocol.Chat], Awaitable[None]]
# (connection, the socket's ASGI scope, the frame) → the "tracked" frame to answer with (set by analytics)
TrackHandler = Callable[[Connection, Mapping[str, Any], protocol.Track], Awaitable[dict[str, Any]]]
# (room id, the viewer's user id or None) → fields of a fresh welcome, each already encoded as JSON (the
# commerce snapshot: the bytes ``GET /api/v1/rooms/{id}/commerce`` would answer this viewer); {} for none
WelcomePart = Callable[[int, int | None], Awaitable[dict[str, bytes]]]
PRESENCE_EVERY = 1.0
# what can fail without costing anyone else anything, counted in /metrics (knowcast_realtime_failures_total):
# encode (an item refused when submitted), publish (a room's tick), apply (an event folded into a room),
# applier and listener (another domain's hook), step (a whole tick or presence round)
FAILURE_STAGES = ("encode", "publish", "apply", "applier", "listener", "step")
WELCOME_KINDS = ("snapshot", "resumed")
WELCOME_PARTS = ("commerce",)


JOIN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 30.0)
"""Fine around a join storm's bar (arrival to welcome within 3 s), coarse beyond it."""


class Hub:
    def __init__(
        self,
        backend: FanoutBackend | None = None,
        *,
        tick_seconds: float = 0.2,
        history: int = 512,
        presence_timeout: float = 45.0,
        buffer_limit: int = 262_144,
        gc_freeze_above: int = 1000,
    ) -> None:
        self.backend = backend or MemoryFanout()
        self.backend.bind(self.deliver)
        self.tick_seconds = tick_seconds
        self.history = history
        self.presence_timeout = presence_timeout
        self.buffer_limit = buffer_limit
        self.rooms: dict[int, LiveRoom] = {}
        self.appliers: list[Applier] = []
        self.snapshot_providers: list[SnapshotProvider] = []
        self.like_listeners: list[LikeListener] = []
        self.identify: Identify | None = None  # set by the interaction domain
        self.chat_handler: ChatHandler | None = None
        self.track_handler: TrackHandler | None = None  # set by the analytics domain
        self.welcome_parts: list[WelcomePart] = []  # set by the commerce domain
        self._tappers: dict[int, Tappers] = {}
        self.failures: Counter[str] = Counter()
        self.welcomes: Counter[str] = Counter()  # "snapshot" / "resumed": joins answered, in /metrics
        self.welcome_parts_sent: Counter[str] = Counter()  # fresh welcomes that carried each part, in /metrics
        self.join_seconds = Histogram(  # from the upgrade request read to the welcome written, in /metrics
            "knowcast_realtime_join_seconds",
            "live sockets from their upgrade request to their welcome",
            buckets=JOIN_BUCKETS,
            registry=None,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self.heap = HeapKeeper(gc_freeze_above)

    # ---- life ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.backend.start()
        self._tasks = [
            asyncio.create_task(self._every(self.tick_seconds, self.flush), name="knowcast-hub-tick"),
            asyncio.create_task(self._every(PRESENCE_EVERY, self.update_presence), name="knowcast-hub-presence"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for room in self.rooms.values():
            room.stop_writing()
            for conn in list(room.conns.values()):
                conn.close(1012, "server restarting")
        await self.backend.stop()

    async def _every(self, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += seconds
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await step()
            except Exception:  # a failed tick (Redis away, say) must not stop the next one
                self.failures["step"] += 1
                log.exception("hub step failed", extra={"step": step.__name__})
            next_at = max(next_at, loop.time() - seconds)

    # ---- rooms -----------------------------------------------------------------------------------------

    def room(self, room_id: int) -> LiveRoom:
        room = self.rooms.get(room_id)
        if room is None:
            # passes at least 3/4 of a tick apart: one per tick here, however many processes publish ticks
            room = self.rooms[room_id] = LiveRoom(room_id, self.history, pass_every=0.75 * self.tick_seconds)
        return room

    async def open_room(self, room_id: int) -> LiveRoom:
        """The room, caught up with the backend's sequence when this process first serves it."""
        fresh = room_id not in self.rooms
        room = self.room(room_id)
        if fresh:
            seq, likes = await self.backend.position(room_id)
            if seq > room.seq:
                room.seq, room.likes = seq, likes
        return room

    def submit_chat(self, room_id: int, line: dict[str, Any]) -> bool:
        """A chat line for the next tick; False (counted, logged) when it cannot be encoded."""
        try:
            self.room(room_id).add_chat(line)
        except (TypeError, ValueError):
            self._failed("encode", room_id, "chat")
            return False
        return True

    def submit_event(self, room_id: int, name: str, data: dict[str, Any]) -> bool:
        """A priority event: it rides the next tick and is never dropped (unless it cannot be encoded: then
        it is refused here, counted and logged, and False is returned)."""
        try:
            self.room(room_id).add_event(name, data)
        except (TypeError, ValueError):
            self._failed("encode", room_id, name)
            return False
        return True

    def _failed(self, stage: str, room_id: int, what: str) -> None:
        self.failures[stage] += 1
        log.exception("live room %s failed", stage, extra={"room_id": room_id, "what": what})

    def add_likes(self, conn: Connection, count: int) -> None:
        self.room(conn.room_id).pending_likes += count
        tappers = self._tappers.setdefault(conn.room_id, {})
        _, taps = tappers.get(conn.key, (None, 0))
        tappers[conn.key] = (conn.user_id, taps + count)

    # ---- joining ---------------------------------------------------------------------------------------

    async def snapshot_extras(self, room: LiveRoom) -> dict[str, Any]:
        """What other domains add to a snapshot, re-read if an event changed the room meanwhile."""
        extras: dict[str, Any] = {}
        for _attempt in range(3):
            version = room.version
            extras = {}
            for provider in self.snapshot_providers:
                extras.update(await provider(room.id))
            if room.version == version:
                break
        return extras

    async def welcome_extras(
        self, room: LiveRoom, user_id: int | None, fresh: bool
    ) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The snapshot's extras and (for a ``fresh`` join, one that is not resuming) the viewer's encoded
        welcome parts, both re-read if an event changed the room meanwhile."""
        extras: dict[str, Any] = {}
        parts: dict[str, bytes] = {}
        for _attempt in range(3):
            version = room.version
            parts = {}
            for provider in self.welcome_parts if fresh else ():
                parts.update(await provider(room.id, user_id))
            extras = await self.snapshot_extras(room)
            if room.version == version:
                break
        return extras, parts

    def join(
        self,
        conn: Connection,
        room: LiveRoom,
        last_seq: int | None,
        you: dict[str, Any],
        extras: dict[str, Any],
        parts: dict[str, bytes] | None = None,
    ) -> bool:
        """Send the welcome (a resume or a snapshot) and start delivering; True when resumed.

        ``parts`` (JSON already encoded) go into a fresh welcome only: spliced in, not decoded and encoded again.
        Nothing here awaits, so no frame can fall between the snapshot (or the replay) and the first delta.
        """
        welcome: dict[str, Any] = {"type": "welcome", "v": protocol.VERSION, "room_id": room.id, "you": you}
        missed = room.frames_after(last_seq) if last_seq is not None else None
        if missed is not None:
            conn.send({**welcome, "resumed": True, "seq": last_seq})
            for frame in missed:
                conn.write(frame)
        else:
            snapshot = {
                "chat": list(room.chat),
                "likes": room.likes,
                "viewers": room.viewers,
                "peak": room.peak,
                "events": room.recent_events(),
                **extras,
            }
            data = protocol.encode({**welcome, "resumed": False, "seq": room.seq, "snapshot": snapshot})
            if parts:
                data = data[:-1] + b"".join(b',"%s":%s' % (key.encode(), raw) for key, raw in parts.items()) + b"}"
                self.welcome_parts_sent.update(parts.keys())
            conn.write(frames.frame(data))
        self.welcomes["resumed" if missed is not None else "snapshot"] += 1
        room.attach(conn)
        return missed is not None

    def leave(self, conn: Connection) -> None:
        room = self.rooms.get(conn.room_id)
        if room is not None:
            room.detach(conn)

    def is_present(self, room_id: int, user_id: int) -> bool:
        """Whether the user has a socket open in the room here that joined or heartbeat within the presence
        timeout (what the viewer count counts). Only this process's sockets are known."""
        room = self.rooms.get(room_id)
        if room is None or not room.sockets.get(f"u{user_id}"):
            return False
        seen = room.present.get(f"u{user_id}")
        return seen is not None and time.monotonic() - seen <= self.presence_timeout

    def heartbeat(self, conn: Connection) -> None:
        room = self.rooms.get(conn.room_id)
        if room is not None:
            room.heartbeat(conn, time.monotonic())

    # ---- ticks and delivery ----------------------------------------------------------------------------

    async def flush(self) -> None:
        """One tick: publish every room's batch."""
        for room in list(self.rooms.values()):
            batch = room.take_batch()
            if batch is None:
                continue
            try:
                await self.backend.publish(room.id, batch.body, batch.payload, batch.likes)
            except Exception:  # this room's tick is lost (Redis away, say); the other rooms' go out
                self._failed("publish", room.id, "tick")
        tappers, self._tappers = self._tappers, {}
        for room_id, who in tappers.items():
            for listener in self.like_listeners:
                try:
                    await listener(room_id, who)
                except Exception:
                    self._failed("listener", room_id, "likes")

    def deliver(self, room_id: int, seq: int, likes: int, body: bytes, payload: dict[str, Any] | None) -> None:
        """A sequenced tick from the backend: fold it into the room and write it to every local viewer."""
        room = self.room(room_id)
        if seq <= room.seq:
            return  # already seen (a process catching up on a room it just started serving)
        if payload is None:
            payload = json.loads(body)
        data = b'{"seq":%d,"likes":%d,' % (seq, likes) + body[1:]
        frame = frames.frame(data)
        for event in room.apply(seq, likes, payload, frame):
            for applier in self.appliers:
                try:
                    applier(room, event["name"], event["data"])
                except Exception:
                    self._failed("applier", room_id, event["name"])
        if room.failures:
            self.failures["apply"] += room.failures
            room.failures = 0
        room.broadcast()

    async def update_presence(self) -> None:
        self.heap.observe(sum(len(room.conns) for room in self.rooms.values()))
        now = time.monotonic()
        local = {
            room.id: room.sweep(now, self.presence_timeout)
            for room in self.rooms.values()
            if room.conns or room.present or room.local_viewers or room.viewers
        }
        if not local:
            return
        for room_id, (total, peak) in (await self.backend.viewers(local)).items():
            self.rooms[room_id].set_viewers(total, peak)
