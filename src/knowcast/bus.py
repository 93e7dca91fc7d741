"""Domain events, published after the transaction that caused them commits.

Services call ``await bus.publish(event)`` only after ``commit()``; subscribers (real-time broadcasts,
webhooks, analytics) never see an event for a change that was rolled back. A failing subscriber is logged
and never fails the action that published the event.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from knowcast.db.types import utcnow

log = logging.getLogger(__name__)


class Payload(BaseModel):
    """The model of one event's ``data``, declared in the domain that publishes it (``<domain>/events.py``) and
    listed in knowcast/event_registry.py. A key no model declares is refused: it would reach subscribers,
    webhooks and the live protocol unannounced."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
    """In-process bus. Subscribe to an exact name, or to ``*`` for everything.

    Given the registry's models (``declare``), it checks each event's ``data`` against its name's model before
    any subscriber sees it: a strict bus raises, so the publisher fails; the app's bus is lenient: the event is
    logged, counted in ``refused`` (/metrics) and still delivered (no action fails for it).
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._models: Mapping[str, type[Payload]] = {}
        self._strict = False
        self.refused: Counter[str] = Counter()

    def declare(self, models: Mapping[str, type[Payload]], *, strict: bool) -> None:
        self._models, self._strict = models, strict

    def _check(self, event: Event) -> None:
        model = self._models.get(event.name)
        if model is None:
            return
        try:
            model.model_validate(event.data)
        except ValidationError as error:
            if self._strict:
                raise
            self.refused[event.name] += 1
            log.warning("event does not match its model: %s", error, extra={"event": event.name})

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    async def publish(self, event: Event) -> None:
        self._check(event)
        for handler in (*self._handlers.get(event.name, ()), *self._handlers.get("*", ())):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed", extra={"event": event.name})
