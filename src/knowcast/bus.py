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
    """``name`` is dotted (``room.live``); ``data`` is JSON-ready."""

    name: str
    data: dict[str, Any]
    at: datetime = field(default_factory=utcnow)


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
