"""Answers matching chat lines from the FAQ, in the room, marked as automatic.

It subscribes to ``chat.message``, which the chat desk publishes for each line it accepted (refused lines
never are): the line is matched against the room's FAQ entries in memory (re-read at most every ENTRIES_TTL
seconds, or at once after a ``faq.changed`` event). A match is answered at most once per viewer per entry per
``faq_window_seconds``, by a ``faq.replied`` event sent to the room as a system line (``to_room``, ``system``)
that analytics counts. The per-viewer memory is per process: a viewer is served by one process at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from knowcast import i18n
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.errors import NotFound
from knowcast.growth import faq

log = logging.getLogger(__name__)
ENTRIES_TTL = 10.0
MEMORY_LIMIT = 50_000


@dataclass(frozen=True)
class Answer:
    entry_id: int
    keywords: tuple[str, ...]
    text: str


class AutoReplier:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.window = float(ctx.settings.faq_window_seconds)
        self.entries: dict[int, tuple[float, list[Answer]]] = {}
        self.answered: dict[tuple[int, int, int], float] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.label = i18n.translate(ctx.settings.default_locale, "growth.faq.auto_label")

    def install(self) -> AutoReplier:
        self.ctx.bus.subscribe("chat.message", self.on_message)
        self.ctx.bus.subscribe("faq.changed", self._changed)
        return self

    async def on_message(self, event: Event) -> None:
        data = event.data
        room_id, user_id, name, text = data.get("room_id"), data.get("user_id"), data.get("name"), data.get("text")
        if isinstance(room_id, int) and isinstance(text, str):
            await self.on_chat(room_id, user_id if isinstance(user_id, int) else None, name, text)

    async def _changed(self, _event: Event) -> None:
        self.entries.clear()

    async def answers(self, room_id: int) -> list[Answer]:
        cached = self.entries.get(room_id)
        if cached is not None and time.monotonic() - cached[0] < ENTRIES_TTL:
            return cached[1]
        try:
            async with self.ctx.db.session() as session:
                rows = await faq.for_room(session, room_id)
        except NotFound:
            rows = []
        answers = [Answer(r.id, tuple(r.keywords), r.answer) for r in rows]
        self.entries[room_id] = (time.monotonic(), answers)
        return answers

    @staticmethod
    def match(answers: list[Answer], text: str) -> tuple[Answer, str] | None:
        """The first entry with a keyword in the line, and that keyword (analytics counts per keyword)."""
        line = faq.normalize(text)
        return next(((a, k) for a in answers for k in a.keywords if k in line), None)

    async def on_chat(self, room_id: int, user_id: int | None, name: str | None, text: str) -> None:
        if user_id is None:
            return
        found = self.match(await self.answers(room_id), text)
        if found is None or not self.admit(room_id, user_id, found[0].entry_id):
            return
        task = asyncio.create_task(self.reply(room_id, user_id, name, *found))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def admit(self, room_id: int, user_id: int, entry_id: int) -> bool:
        """At most one answer per viewer per entry per window."""
        now, key = time.monotonic(), (room_id, user_id, entry_id)
        last = self.answered.get(key)
        if last is not None and now - last < self.window:
            return False
        if len(self.answered) >= MEMORY_LIMIT:
            self.answered = {k: t for k, t in self.answered.items() if now - t < self.window}
        self.answered[key] = now
        return True

    async def reply(self, room_id: int, user_id: int, name: str | None, answer: Answer, keyword: str = "") -> None:
        try:
            async with self.ctx.db.session() as session:
                await faq.count_reply(session, answer.entry_id)
        except Exception:
            log.exception("could not count an auto-reply", extra={"faq_id": answer.entry_id})
        text = f"{self.label} @{name}: {answer.text}" if name else f"{self.label} {answer.text}"
        # each viewer's page writes the line in its own language from the catalog key and params; text is the
        # shop's default language (docs/protocol.md, "system line")
        params = {"name": name, "answer": answer.text} if name else {"answer": answer.text}
        data: dict[str, Any] = {
            "room_id": room_id,
            "auto": True,
            "faq_id": answer.entry_id,
            "keyword": keyword,  # the one that matched: analytics counts replies per entry and keyword
            "user_id": user_id,
            "to": name,
            "answer": answer.text,
            "text": text,
            "message": "growth.faq.reply_to" if name else "growth.faq.reply",
            "params": params,
        }
        await self.ctx.bus.publish(Event("faq.replied", data, to_room=True, system=True))
