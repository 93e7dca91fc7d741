"""Privacy's bus events.

Each bus event privacy publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from knowcast.bus import Payload


class UserDeleted(Payload):
    user_id: int


EVENTS: dict[str, type[Payload]] = {"user.deleted": UserDeleted}
