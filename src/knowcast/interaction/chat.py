"""The chat desk: the rules every chat line passes, checked in memory on the hot path.

Per room and per server process it keeps who is banned or muted (loaded when a user joins, then kept current
by the moderation events every process receives in the room's frames), slow mode, and each sender's recent
messages for the flood rule: ``chat_burst`` messages in ``chat_burst_seconds``, then a ``chat_mute_seconds``
mute that the sender is told about.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.engine import Database
from knowcast.errors import AuthenticationRequired, PermissionDenied, RateLimited, ValidationFailed
from knowcast.interaction import moderation
from knowcast.interaction.errors import InteractionCode
from knowcast.realtime import protocol
from knowcast.realtime.connection import Connection
from knowcast.realtime.hub import Hub
from knowcast.realtime.room import LiveRoom, now_ms

WORDS_TTL = 10.0
log = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class RoomRules:
    slow_mode: int = 0
    banned: set[int] = field(default_factory=set)
    muted: dict[int, float] = field(default_factory=dict)  # user → until (epoch seconds)
    sent: dict[int, deque[float]] = field(default_factory=dict)  # user → recent send times (monotonic)
    last_sent: dict[int, float] = field(default_factory=dict)


class WordFilter:
    """The shop's banned words, re-read from the database at most every WORDS_TTL seconds.

    A chat line never waits for the database: past the TTL the line is checked against the words in hand
    while a fresh read runs in the background (only the very first line in a process waits for the read)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pattern: re.Pattern[str] | None = None
        self.loaded_at: float | None = None
        self._reading: asyncio.Task[None] | None = None

    def invalidate(self) -> None:
        """The list changed in this process: the next line waits for the new list."""
        self.loaded_at = None

    async def pattern_now(self) -> re.Pattern[str] | None:
        if self.loaded_at is None:
            await self._read()
        elif time.monotonic() - self.loaded_at >= WORDS_TTL and self._reading is None:
            self._reading = asyncio.create_task(self._read())
            self._reading.add_done_callback(self._read_done)
        return self.pattern

    def _read_done(self, task: asyncio.Task[None]) -> None:
        self._reading = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("cannot re-read the banned words; keeping the old list", exc_info=task.exception())

    async def _read(self) -> None:
        async with self.db.session() as session:
            words = await moderation.banned_words(session)
        self.pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
        self.loaded_at = time.monotonic()


class ChatDesk:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.words = WordFilter(ctx.db)
        self.rooms: dict[int, RoomRules] = {}
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)

    def rules(self, room_id: int) -> RoomRules:
        rules = self.rooms.get(room_id)
        if rules is None:
            rules = self.rooms[room_id] = RoomRules()
        return rules

    def learn(self, room_id: int, user_id: int, standing: moderation.Standing, slow_mode: int) -> None:
        """What a joining user's standing says, as read from the database."""
        rules = self.rules(room_id)
        rules.slow_mode = slow_mode
        if standing.banned:
            rules.banned.add(user_id)
        if standing.muted_until is not None:
            rules.muted[user_id] = standing.muted_until.timestamp()

    async def handle(self, conn: Connection, message: protocol.Chat) -> None:
        if conn.user_id is None:
            raise AuthenticationRequired("sign in to chat", code=InteractionCode.CHAT_SIGNIN_REQUIRED)
        text = self.check(conn, message.text)
        pattern = await self.words.pattern_now()
        if pattern is not None and pattern.search(text):
            raise ValidationFailed(
                "this message contains a word the shop does not allow", code=InteractionCode.CHAT_BLOCKED_WORD
            )
        self.admit(conn)
        line: dict[str, Any] = {
            "id": f"{self._prefix}{next(self._ids)}",
            "user_id": conn.user_id,
            "name": conn.name,
            "text": text,
            "at": now_ms(),
        }
        if conn.badge:
            line["badge"] = conn.badge
        if message.cid:
            line["cid"] = message.cid
        if not self.ctx.runtime(Hub).submit_chat(conn.room_id, line):
            raise protocol.malformed("this message cannot be sent")
        # text and the public nickname: the replay's chat, keyword draws and FAQ replies read them
        data = {
            "room_id": conn.room_id,
            "user_id": conn.user_id,
            "message_id": line["id"],
            "length": len(text),
            "text": text,
            "name": conn.name,
        }
        await self.ctx.bus.publish(Event("chat.message", data))

    def check(self, conn: Connection, raw: str) -> str:
        """Ban, mute, then length; returns the cleaned text."""
        assert conn.user_id is not None
        rules = self.rules(conn.room_id)
        if conn.user_id in rules.banned:
            raise PermissionDenied("you were removed from this room's chat", code=InteractionCode.CHAT_BANNED)
        until = rules.muted.get(conn.user_id, 0.0)
        if until > time.time():
            raise RateLimited(
                "you are muted for now", retry_after=int(until - time.time()) + 1, code=InteractionCode.CHAT_MUTED
            )
        text = " ".join(_CONTROL.sub(" ", raw).split())
        if not text:
            raise ValidationFailed("say something first", code=InteractionCode.CHAT_EMPTY)
        if len(text) > self.settings.chat_max_length:
            raise ValidationFailed(
                f"a message has at most {self.settings.chat_max_length} characters", code=InteractionCode.CHAT_TOO_LONG
            )
        return text

    def admit(self, conn: Connection) -> None:
        """Slow mode, then the flood rule; records the message when it passes."""
        assert conn.user_id is not None
        rules, now, user = self.rules(conn.room_id), time.monotonic(), conn.user_id
        if rules.slow_mode and not conn.can_moderate:
            wait = rules.last_sent.get(user, -1e9) + rules.slow_mode - now
            if wait > 0:
                raise RateLimited("slow mode is on", retry_after=int(wait) + 1, code=InteractionCode.CHAT_SLOW_MODE)
        sent = rules.sent.setdefault(user, deque(maxlen=self.settings.chat_burst))
        window = self.settings.chat_burst_seconds
        if len(sent) == sent.maxlen and now - sent[0] < window:
            mute = self.settings.chat_mute_seconds
            rules.muted[user] = time.time() + mute
            sent.clear()
            raise RateLimited(
                f"too many messages: muted for {mute} seconds", retry_after=mute, code=InteractionCode.CHAT_RATE_LIMITED
            )
        sent.append(now)
        rules.last_sent[user] = now

    def apply(self, room: LiveRoom, name: str, data: dict[str, Any]) -> None:
        """Fold a moderation event (from any process) into this process's rules and sockets."""
        rules, user_id = self.rules(room.id), data.get("user_id")
        if name == "chat.slow_mode":
            rules.slow_mode = int(data.get("seconds", 0))
        elif not isinstance(user_id, int):
            return
        elif name == "chat.user_banned":
            rules.banned.add(user_id)
        elif name == "chat.sessions_ended":
            _reconnect(room, user_id)
        elif name == "chat.user_unbanned":
            rules.banned.discard(user_id)
        elif name == "chat.user_muted" and data.get("until"):
            rules.muted[user_id] = datetime.fromisoformat(data["until"]).timestamp()
        elif name == "chat.user_unmuted":
            rules.muted.pop(user_id, None)
        elif name.startswith(("room.moderator_", "room.guest_")):
            self._restyle(room, user_id, name)

    @staticmethod
    def _restyle(room: LiveRoom, user_id: int, name: str) -> None:
        for conn in room.conns.values():
            if conn.user_id != user_id or conn.badge == "host":
                continue
            if name == "room.moderator_added":
                conn.can_moderate, conn.badge = True, "mod"
            elif name == "room.moderator_removed":
                conn.can_moderate, conn.badge = False, None
            elif name == "room.guest_added" and not conn.can_moderate:
                conn.badge = "guest"
            elif name == "room.guest_removed" and conn.badge == "guest":
                conn.badge = None


def _reconnect(room: LiveRoom, user_id: int) -> None:
    """Close the account's sockets in this process with 4001: the page reconnects under its current cookie."""
    for conn in list(room.conns.values()):
        if conn.user_id == user_id and not conn.closed:
            conn.close(protocol.SESSION_ENDED, "session ended")
