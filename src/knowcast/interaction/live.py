"""Plugs the interaction domain into the hub: who a joining socket is, chat lines, what a snapshot adds,
moderation events folded into every process's rules, and likes reported to the bus for analytics."""

from __future__ import annotations

import asyncio
from typing import Any

from knowcast.accounts.service import Identity
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.interaction import moderation, polls, privacy, qa
from knowcast.interaction.chat import ChatDesk
from knowcast.interaction.standings import STANDING_EVENTS, StandingLookups
from knowcast.realtime.connection import Connection
from knowcast.realtime.hub import Hub, Tappers
from knowcast.realtime.room import LiveRoom
from knowcast.rooms.models import Room

EXTRAS_EVENTS = ("qa.", "poll.", "chat.slow_mode")


class LiveInteraction:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.desk = ChatDesk(ctx)
        self.standings = StandingLookups(ctx.db)
        self._extras: dict[int, dict[str, Any]] = {}
        self._loading: dict[int, asyncio.Future[dict[str, Any]]] = {}

    def install(self) -> None:
        hub = self.ctx.runtime(Hub)
        hub.identify = self.identify
        hub.chat_handler = self.desk.handle
        hub.appliers.append(self.apply)
        hub.snapshot_providers.append(self.snapshot)
        hub.like_listeners.append(self.likes)
        self.ctx.bus.subscribe("chat.banned_words_changed", self._words_changed)
        for name in STANDING_EVENTS:  # this process's own at once; the others' come through ``apply``
            self.ctx.bus.subscribe(name, self.standings.on_event)
        privacy.subscribe(self.ctx)

    async def _words_changed(self, _event: Event) -> None:
        self.desk.words.invalidate()

    async def identify(self, conn: Connection, who: Identity | None, room: Room) -> dict[str, Any]:
        if who is None:
            return {"badge": None, "can_chat": False, "can_moderate": False, "can_answer": False}
        mine = await self.standings.get(room, who.user_id, who.role)
        conn.badge, conn.can_moderate = mine.badge, mine.can_moderate
        self.desk.learn(room.id, who.user_id, mine, (await self.snapshot(room.id))["slow_mode"])
        return {
            "badge": mine.badge,
            "can_chat": not mine.banned,
            "can_moderate": mine.can_moderate,
            "can_answer": mine.can_answer or mine.can_moderate,
            "banned": mine.banned,
            "muted_until": mine.muted_until.isoformat() if mine.muted_until else None,
            "is_host": who.user_id == room.host_id,
        }

    async def snapshot(self, room_id: int) -> dict[str, Any]:
        """Slow mode, the open poll and the top questions, cached until an event changes them."""
        cached = self._extras.get(room_id)
        if cached is not None:
            return cached
        loading = self._loading.get(room_id)
        if loading is None:  # a thousand viewers joining at once share one read
            loading = self._loading[room_id] = asyncio.ensure_future(self._load(room_id))
            loading.add_done_callback(lambda _f: self._loading.pop(room_id, None))
        return await asyncio.shield(loading)

    async def _load(self, room_id: int) -> dict[str, Any]:
        async with self.ctx.db.session() as db:
            poll = await polls.current(db, room_id)
            slow_mode = await moderation.slow_mode(db, room_id)
            extras: dict[str, Any] = {
                "slow_mode": slow_mode,
                "poll": poll.model_dump() if poll else None,
                "questions": [q.model_dump() for q in await qa.top(db, room_id)],
            }
        self.desk.rules(room_id).slow_mode = slow_mode
        self._extras[room_id] = extras
        return extras

    def apply(self, room: LiveRoom, name: str, data: dict[str, Any]) -> None:
        if name.startswith(EXTRAS_EVENTS):
            self._extras.pop(room.id, None)
        if name in STANDING_EVENTS:
            self.standings.forget(room.id)
        self.desk.apply(room, name, data)

    async def likes(self, room_id: int, tappers: Tappers) -> None:
        for key, (user_id, taps) in tappers.items():
            data = {"room_id": room_id, "user_id": user_id, "viewer": key, "count": taps}
            await self.ctx.bus.publish(Event("likes.tapped", data))
