"""Rooms' bus events.

Each bus event rooms publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from knowcast.bus import Payload
from knowcast.rooms.states import RoomState


class RoomCreated(Payload):
    room_id: int
    host_id: int


class RoomChanged(Payload):
    """``room.updated`` and ``room.stream_key_rotated``."""

    room_id: int


class RoomStateChanged(Payload):
    """``room.<state>``, sent to the room (and, for live and ended, to webhooks)."""

    room_id: int
    host_id: int
    state: str


EVENTS: dict[str, type[Payload]] = {
    "room.created": RoomCreated,
    "room.updated": RoomChanged,
    "room.stream_key_rotated": RoomChanged,
    **{f"room.{state.value}": RoomStateChanged for state in RoomState if state is not RoomState.SCHEDULED},
}
