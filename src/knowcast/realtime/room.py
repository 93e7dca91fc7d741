"""One live room inside the hub: its sockets, its sequence of frames, and what the next tick will carry.

State here is a fold over the room's frames (recent chat, likes, the latest event of each name), so every
process that receives the same ordered frames holds the same room, and a joining viewer's snapshot is that
state at the sequence number it is given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, NamedTuple

from knowcast.realtime import protocol
from knowcast.realtime.connection import Connection

log = logging.getLogger(__name__)
RECENT_CHAT = 50
CHAT_PER_TICK = 100  # more chat than this in one tick is sampled down; events are never dropped
STICKY_NAMES = 64
SLICE = 512  # sockets written to in one turn of the event loop (a few ms), so that reads never wait long
# A tick that would carry nothing but a changed viewer count is a write to every socket in the room for a
# number: in a room of BIG_ROOM viewers or more it goes out at most every COUNT_ONLY_EVERY seconds (a count of
# thousands moving by a few is not news each second; the big live apps refresh theirs every few seconds too).
# A count that changed always rides a tick that goes out anyway (chat, likes, events), and small rooms get it
# every presence round (1 s) as before.
BIG_ROOM = 1000
COUNT_ONLY_EVERY = 3.0


class Tick(NamedTuple):
    """One tick's batch: the payload (without seq and likes total, which the sequencer stamps), the same
    payload as JSON bytes, and the like delta."""

    payload: dict[str, Any]
    likes: int
    body: bytes


class LiveRoom:
    def __init__(self, room_id: int, history: int = 512, pass_every: float = 0.0) -> None:
        self.id = room_id
        # least time between the starts of two passes: with several processes each publishing its own tick,
        # a viewer is still written to about once a tick, not once per process's tick
        self.pass_every = pass_every
        self.conns: dict[int, Connection] = {}
        self.seq = 0
        self.likes = 0
        self.history: deque[tuple[int, bytes]] = deque(maxlen=history)
        self.chat: deque[dict[str, Any]] = deque(maxlen=RECENT_CHAT)
        self.sticky: dict[str, tuple[int, dict[str, Any]]] = {}
        self.version = 0  # bumped whenever a frame carries events: snapshot extras may be stale
        self.failures = 0  # events whose folding into the room failed, since the hub last counted them
        # each item is encoded when it is accepted, so one that cannot be encoded is refused alone and a
        # tick is only ever joined from bytes that are known to be good
        self.pending_chat: list[tuple[dict[str, Any], bytes]] = []
        self.pending_events: list[tuple[dict[str, Any], bytes]] = []
        self.pending_likes = 0
        self.present: dict[str, float] = {}  # presence key → last heartbeat (monotonic clock)
        self.sockets: dict[str, int] = {}  # presence key → open sockets
        self.local_viewers = 0
        self.viewers = 0
        self.peak = 0
        self.viewers_changed = False
        self.count_sent_at = -1e9  # when a tick last carried the viewer count (monotonic clock)
        # the pass of writes in progress: the viewers it walks, the next index, the room's seq when it began
        self._pass: list[Connection] = []
        self._next = 0
        self._pass_seq = 0
        self._pass_began = -1e9
        self._writer: asyncio.Task[None] | None = None

    # ---- what goes into the next tick ------------------------------------------------------------------

    def add_chat(self, line: dict[str, Any]) -> None:
        """Queue a chat line for the next tick; raises (and queues nothing) when it cannot be encoded."""
        self.pending_chat.append((line, protocol.encode(line)))

    def add_event(self, name: str, data: dict[str, Any]) -> None:
        """Queue a priority event for the next tick; raises (and queues nothing) when it cannot be encoded."""
        event = {"name": name, "data": data}
        encoded = protocol.encode(event)
        replaces = data.get("replaces")
        if replaces is not None:  # e.g. live poll results: only the newest in a tick matters
            self.pending_events = [e for e in self.pending_events if e[0]["data"].get("replaces") != replaces]
        self.pending_events.append((event, encoded))

    def take_batch(self) -> Tick | None:
        """The tick's batch, joined from the items' encodings, or None when there is nothing new."""
        if not (self.pending_chat or self.pending_events or self.pending_likes) and not self._count_due():
            return None
        payload: dict[str, Any] = {"type": "tick"}
        body = [b'{"type":"tick"']
        chat = self.pending_chat
        if len(chat) > CHAT_PER_TICK:
            payload["chat_dropped"] = len(chat) - CHAT_PER_TICK
            body.append(b',"chat_dropped":%d' % payload["chat_dropped"])
            chat = chat[-CHAT_PER_TICK:]
        if chat:
            payload["chat"] = [line for line, _ in chat]
            body += (b',"chat":[', b",".join(encoded for _, encoded in chat), b"]")
        if self.pending_events:
            payload["events"] = [event for event, _ in self.pending_events]
            body += (b',"events":[', b",".join(encoded for _, encoded in self.pending_events), b"]")
        if self.viewers_changed:
            payload["viewers"], payload["peak"] = self.viewers, self.peak
            body.append(b',"viewers":%d,"peak":%d' % (self.viewers, self.peak))
            self.count_sent_at = time.monotonic()
        likes = self.pending_likes
        if likes:
            payload["likes_delta"] = likes
            body.append(b',"likes_delta":%d' % likes)
        body.append(b"}")
        self.pending_chat, self.pending_events, self.pending_likes = [], [], 0
        self.viewers_changed = False
        return Tick(payload, likes, b"".join(body))

    def _count_due(self) -> bool:
        """Whether a changed viewer count goes out in a tick of its own now (see COUNT_ONLY_EVERY)."""
        if not self.viewers_changed:
            return False
        return self.viewers < BIG_ROOM or time.monotonic() - self.count_sent_at >= COUNT_ONLY_EVERY

    # ---- applying a sequenced frame --------------------------------------------------------------------

    def apply(self, seq: int, likes: int, payload: dict[str, Any], frame: bytes) -> list[dict[str, Any]]:
        """Fold one frame into the room; returns its events for the hub's appliers."""
        self.seq, self.likes = seq, likes
        self.history.append((seq, frame))
        self.chat.extend(payload.get("chat", ()))
        events: list[dict[str, Any]] = payload.get("events", [])
        for index, event in enumerate(events):
            try:
                self._apply_event(seq, index, event)
            except Exception:  # one odd event must not keep the rest of the frame from the room
                self.failures += 1
                log.exception("cannot fold an event into the room", extra={"room_id": self.id, "seq": seq})
        if events:
            self.version += 1
        return events

    def _apply_event(self, seq: int, index: int, event: dict[str, Any]) -> None:
        name, data = event["name"], event["data"]
        if name == "chat.hidden":
            purge = bool(data.get("purge"))
            self.hide(data.get("message_id"), data.get("user_id") if purge else None, data.get("order_ids") or ())
        if data.get("system"):
            self.chat.append(system_line(seq, index, name, data))
        if data.get("transient"):
            return  # news of the moment only: a late joiner's snapshot does not replay it
        self.sticky.pop(name, None)
        self.sticky[name] = (seq, event)
        if len(self.sticky) > STICKY_NAMES:
            self.sticky.pop(next(iter(self.sticky)))

    def hide(self, message_id: object, user_id: object = None, order_ids: Iterable[object] = ()) -> None:
        """Drop a line; with ``user_id`` (an account's purge) also every line by that account, and with
        ``order_ids`` the lines and kept events announcing those orders ("小李 买了…"), so a late joiner's
        snapshot no longer shows them."""
        orders = set(order_ids)
        kept = [
            line
            for line in self.chat
            if line.get("id") != message_id
            and (user_id is None or line.get("user_id") != user_id)
            and line.get("order_id", None) not in orders
        ]
        if len(kept) != len(self.chat):
            self.chat = deque(kept, maxlen=RECENT_CHAT)
        for name, (_, event) in list(self.sticky.items()):
            if _names(event["data"], user_id, orders):
                del self.sticky[name]

    def frames_after(self, seq: int) -> list[bytes] | None:
        """Frames with a sequence number above ``seq``, or None when they are no longer all kept."""
        if seq > self.seq:
            return None
        if seq == self.seq:
            return []
        if not self.history or self.history[0][0] > seq + 1:
            return None
        return [frame for number, frame in self.history if number > seq]

    def recent_events(self) -> list[dict[str, Any]]:
        return [{**event, "seq": seq} for seq, event in sorted(self.sticky.values(), key=lambda pair: pair[0])]

    # ---- sockets and presence --------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        """Start delivering to ``conn``, which holds every frame up to ``self.seq`` (welcome or replay)."""
        conn.sent_seq = self.seq
        self.conns[conn.id] = conn
        self.sockets[conn.key] = self.sockets.get(conn.key, 0) + 1
        self.present[conn.key] = time.monotonic()

    def detach(self, conn: Connection) -> None:
        if self.conns.pop(conn.id, None) is None:
            return
        left = self.sockets.get(conn.key, 1) - 1
        if left > 0:
            self.sockets[conn.key] = left
        else:
            self.sockets.pop(conn.key, None)
            self.present.pop(conn.key, None)

    def heartbeat(self, conn: Connection, now: float) -> None:
        conn.last_heartbeat = now
        self.present[conn.key] = now

    def sweep(self, now: float, timeout: float) -> int:
        """Forget viewers whose last heartbeat is older than ``timeout``; returns the local count."""
        stale = [key for key, seen in self.present.items() if now - seen > timeout]
        for key in stale:
            del self.present[key]
        self.local_viewers = len(self.present)
        return self.local_viewers

    def set_viewers(self, total: int, peak: int) -> None:
        if (total, max(peak, total)) != (self.viewers, self.peak):
            self.viewers, self.peak = total, max(self.peak, peak, total)
            self.viewers_changed = True

    def broadcast(self) -> None:
        """Bring every viewer up to the room's latest frame.

        Each viewer has a cursor (``Connection.sent_seq``); a pass over the viewers writes to each the frames
        after its cursor, in one write. The first SLICE viewers are written at once, the rest in later turns of
        the event loop, SLICE at a time, so that a chat line or a join arriving meanwhile waits a few
        milliseconds rather than for ten thousand writes. A frame sequenced while a pass runs needs no pass of
        its own: the viewers not yet reached get it with the one before, and the rest in the next pass. So the
        writes never fall behind the ticks, however long a pass takes: viewers get more per write instead.
        """
        if self._writer is not None:
            return  # the running (or waiting) pass carries the new frame on
        wait = self._pass_wait()
        if wait <= 0:
            self._begin_pass()
            self._write_slice()
            if self._next >= len(self._pass):
                self._pass = []  # holds no departed viewer until the next pass
                return
        self._writer = asyncio.get_running_loop().create_task(self._write_rest(wait), name=f"room-{self.id}-writer")

    def _pass_wait(self) -> float:
        return self._pass_began + self.pass_every - time.monotonic() if self.pass_every else 0.0

    def _begin_pass(self) -> None:
        self._pass, self._next, self._pass_seq = list(self.conns.values()), 0, self.seq
        self._pass_began = time.monotonic()

    async def _write_rest(self, wait: float) -> None:
        try:
            if wait > 0:  # a pass began less than pass_every ago: this frame rides the next one
                await asyncio.sleep(wait)
                self._begin_pass()
                self._write_slice()
            while True:
                await asyncio.sleep(0)  # let the loop read and run other work between slices
                if self._next >= len(self._pass):
                    if self._pass_seq == self.seq:
                        break  # all caught up (a viewer who joined meanwhile had the latest frame in its welcome)
                    wait = self._pass_wait()  # frames came during the pass: its first viewers are behind
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._begin_pass()
                self._write_slice()
        finally:
            self._pass, self._writer = [], None

    def _write_slice(self) -> None:
        seq, start = self.seq, self._next
        end = self._next = min(len(self._pass), start + SLICE)
        pending: dict[int, bytes | None] = {}  # cursor → the frames after it, joined; viewers mostly share one
        for conn in self._pass[start:end]:
            cursor = conn.sent_seq
            if cursor >= seq or conn.closed:
                continue
            if cursor not in pending:
                pending[cursor] = self._frames_since(cursor)
            data = pending[cursor]
            if data is not None and (not data or conn.write(data)):
                conn.sent_seq = seq
                continue
            if data is None:  # so far behind that the frames it lacks are no longer kept: it must resume
                conn.abort()
            self.detach(conn)

    def _frames_since(self, cursor: int) -> bytes | None:
        """The frames after ``cursor``, joined; None when the history no longer reaches back to it."""
        history = self.history
        if history and history[-1][0] == cursor + 1:
            return history[-1][1]
        if len(history) == history.maxlen and history[0][0] > cursor + 1:
            return None
        return b"".join(frame for seq, frame in history if seq > cursor)  # a gap in the sequence passes on

    def stop_writing(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        self._pass, self._writer = [], None


def _names(data: dict[str, Any], user_id: object, orders: set[object]) -> bool:
    """Whether a kept event is about this account (its line, its question) or announces one of these orders."""
    question = data.get("question")
    by = question.get("user_id") if isinstance(question, dict) else data.get("user_id")
    return (user_id is not None and by == user_id) or (bool(orders) and data.get("order_id") in orders)


def system_line(seq: int, index: int, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A chat line made from a bus event marked ``system`` (someone bought, a sale started)."""
    line: dict[str, Any] = {"id": f"s{seq}.{index}", "system": True, "event": name, "at": now_ms()}
    if isinstance(data.get("text"), str):
        line["text"] = data["text"]
    if isinstance(data.get("order_id"), int):
        line["order_id"] = data["order_id"]  # "小李 买了…": deleting the buyer's account removes it
    params = data.get("params")
    if isinstance(data.get("message"), str) and isinstance(params, dict):
        # each viewer's page formats this catalog message in its own language (docs/protocol.md)
        line["message"] = data["message"]
        line["params"] = {
            k: v for k, v in params.items() if isinstance(v, str | int | float) and not isinstance(v, bool)
        }
    return line


def now_ms() -> int:
    return int(time.time() * 1000)
