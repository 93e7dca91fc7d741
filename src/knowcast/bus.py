"""Domain events, published after the transaction that caused them commits.

Services call ``await bus.publish(event)`` only after ``commit()``; subscribers (real-time broadcasts,
webhooks, analytics) never see an event for a change that was rolled back. A failing subscriber is logged
and never fails the action that published the event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from knowcast.db.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """``name`` is dotted (``room.live``); ``data`` is the JSON-ready payload, what happened and nothing else.

    How the real-time plane delivers it is the envelope's business, never a key of ``data``:
    ``to_room`` sends it to the live viewers of ``data["room_id"]`` on the next tick; ``system`` also shows it
    as a chat line (and in the replay's timeline); ``transient`` keeps it out of a late joiner's snapshot;
    ``replaces`` drops an older event with the same key still waiting in the tick (live poll results).
    """

    name: str
    data: dict[str, Any]
    at: datetime = field(default_factory=utcnow)
    to_room: bool = field(default=False, kw_only=True)
    system: bool = field(default=False, kw_only=True)
    transient: bool = field(default=False, kw_only=True)
    replaces: str | None = field(default=None, kw_only=True)

    def wire(self) -> dict[str, Any]:
        """The event's ``data`` in a room's tick (docs/protocol.md): the payload with the delivery options a
        client reads as keys, where the protocol has always had them: ``broadcast`` (and ``system``,
        ``transient``) right after ``room_id``, ``replaces`` last."""
        flags: dict[str, Any] = {"broadcast": True}
        if self.system:
            flags["system"] = True
        if self.transient:
            flags["transient"] = True
        out: dict[str, Any] = {}
        for key, value in self.data.items():
            out[key] = value
            if key == "room_id":
                out.update(flags)
        out.update(flags)  # no room_id (the bridge forwards none such): the flags still go
        if self.replaces is not None:
            out["replaces"] = self.replaces
        return out


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    """In-process bus. Subscribe to an exact name, or to ``*`` for everything."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    async def publish(self, event: Event) -> None:
        for handler in (*self._handlers.get(event.name, ()), *self._handlers.get("*", ())):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed", extra={"event": event.name})
