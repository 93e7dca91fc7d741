"""The room's timeline beside its recording, so the replay can show chat and chapters at the right moment.

It listens to the bus: chat lines (``chat.message`` events that carry ``text``), system lines (events published
with ``system=True``; with their catalog ``message`` and ``params`` when the event has them) and pins (events
named ``*.pinned``, which become chapters), for rooms that have video.
Each is one JSON line in ``<room media dir>/timeline.jsonl``. A moderator's hide (``chat.hidden``) takes the
line out again — with ``purge``, every line of its author in that room — as the live room does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowcast.bus import Event
from knowcast.media.schemas import TimelineItem
from knowcast.media.storage import MediaStore

log = logging.getLogger(__name__)
FILE = "timeline.jsonl"
MAX_ITEMS = 20_000


def item_for(event: Event) -> TimelineItem | None:
    data = event.data
    if event.name == "chat.message" and data.get("text"):
        author = data.get("user_id") if isinstance(data.get("user_id"), int) else None
        line = {"message_id": str(data["message_id"])} if data.get("message_id") else {}
        text = str(data["text"])
        return TimelineItem(at=event.at, kind="chat", name=data.get("name"), user_id=author, text=text, data=line)
    if event.name.endswith(".pinned"):
        return TimelineItem(at=event.at, kind="chapter", text=_title(data), data=_plain(data))
    if event.system:
        text = str(data.get("text") or data.get("message") or event.name)
        return TimelineItem(at=event.at, kind="system", text=text, data={**_plain(data), **_message(data)})
    return None


def _message(data: dict[str, Any]) -> dict[str, Any]:
    """A system line's catalog key and params, so the replay writes it in each viewer's language (the stored
    ``text`` is the shop's default language, shown only by lines recorded before keys were kept)."""
    params = data.get("params")
    if not isinstance(data.get("message"), str) or not isinstance(params, dict):
        return {}
    plain = {k: v for k, v in params.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    return {"message": data["message"], "params": plain}


def _title(data: dict[str, Any]) -> str:
    product = data.get("product")
    if isinstance(product, dict) and product.get("title"):
        return str(product["title"])
    return str(data.get("title") or data.get("text") or "")


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str | int | float)}


class TimelineRecorder:
    def __init__(self, store: MediaStore) -> None:
        self.store = store

    async def on_event(self, event: Event) -> None:
        room_id = event.data.get("room_id")
        if not isinstance(room_id, int) or not self.store.has_media(room_id):
            return
        if event.name == "chat.hidden":
            self.hide(room_id, event.data)
            return
        item = item_for(event)
        if item is not None:
            with (self.store.room_dir(room_id) / FILE).open("a", encoding="utf-8") as out:
                out.write(item.model_dump_json() + "\n")

    def about(self, person: Person) -> list[tuple[int, TimelineItem]]:
        """(room id, item) for every line by or about one account (its chat lines, "X bought Y")."""
        found = []
        for path in self._files():
            room_id = int(path.parent.name)
            found += [(room_id, item) for item in self.items(room_id) if person.in_(item)]
        return found

    def forget(self, person: Person) -> int:
        """Rewrite every timeline without the lines by or about one account; returns how many went."""
        return sum(_drop_lines(path, person.in_line) for path in self._files())

    def hide(self, room_id: int, data: dict[str, Any]) -> int:
        """A moderator hid a chat line (``message_id``), or with ``purge`` every line of ``user_id``."""
        message_id = data.get("message_id")
        author = data.get("user_id") if data.get("purge") and isinstance(data.get("user_id"), int) else None
        if not message_id and author is None:
            return 0

        def hidden(line: str) -> bool:
            item = parse_line(line)
            if item is None or item.kind != "chat":
                return False
            by_id = bool(message_id) and item.data.get("message_id") == message_id
            return by_id or (author is not None and item.user_id == author)

        return _drop_lines(self.store.room_dir(room_id) / FILE, hidden)

    def _files(self) -> list[Path]:
        return sorted(p for p in self.store.root.glob(f"*/{FILE}") if p.parent.name.isdigit())

    def items(self, room_id: int) -> list[TimelineItem]:
        path = self.store.room_dir(room_id) / FILE
        try:
            lines = path.read_text(encoding="utf-8").splitlines()[:MAX_ITEMS]
        except OSError:
            return []
        items = []
        for line in lines:
            item = parse_line(line)
            if item is None:
                log.warning("skipping a bad timeline line", extra={"room_id": room_id})
            else:
                items.append(item)
        return items


@dataclass(frozen=True)
class Person:
    """Who a line may be about: an account (its chat lines) and its orders (the room's "X bought Y")."""

    user_id: int
    order_ids: frozenset[int] = frozenset()

    def in_(self, item: TimelineItem) -> bool:
        return (
            item.user_id == self.user_id
            or item.data.get("user_id") == self.user_id
            or item.data.get("order_id") in self.order_ids
        )

    def in_line(self, line: str) -> bool:
        item = parse_line(line)
        return item is not None and self.in_(item)


def parse_line(line: str) -> TimelineItem | None:
    """One line of a timeline file, or None when it is not a valid item."""
    try:
        return TimelineItem.model_validate(json.loads(line))
    except ValueError:
        return None


def _drop_lines(path: Path, drop: Callable[[str], bool]) -> int:
    """Rewrite a timeline without the lines ``drop`` picks; returns how many went."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError:
        return 0
    kept = [line for line in lines if not drop(line)]
    if len(kept) != len(lines):
        spare = path.with_suffix(".tmp")
        spare.write_text("".join(kept), encoding="utf-8")
        spare.replace(path)  # atomic: a reader sees the old file or the new one
    return len(lines) - len(kept)
