"""The video plane's bus events: the stage (连麦) of a room.

Each is one model here (extra fields forbidden); knowcast/event_registry.py lists them; docs/protocol.md and
docs/media.md describe them. All are sent to the room.
"""

from __future__ import annotations

from knowcast.bus import Payload


class GuestJoined(Payload):
    room_id: int
    guest_id: str
    name: str
    user_id: int | None


class GuestLeft(Payload):
    room_id: int
    guest_id: str
    reason: str


class GuestMuted(Payload):
    room_id: int
    guest_id: str
    muted: bool


class LayoutChanged(Payload):
    room_id: int
    layout: str


EVENTS: dict[str, type[Payload]] = {
    "stage.guest_joined": GuestJoined,
    "stage.guest_left": GuestLeft,
    "stage.guest_muted": GuestMuted,
    "stage.layout_changed": LayoutChanged,
}
