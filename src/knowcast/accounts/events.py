"""Accounts' bus events.

Each bus event accounts publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from knowcast.bus import Payload


class UserCreated(Payload):
    user_id: int
    role: str


class UserSessionsEnded(Payload):
    """``user.signed_out`` and ``user.password_changed``: sessions of the account ended."""

    user_id: int


class UserRoleChanged(Payload):
    user_id: int
    role: str
    by: int


class UserDisabled(Payload):
    user_id: int
    by: int


EVENTS: dict[str, type[Payload]] = {
    "user.created": UserCreated,
    "user.signed_out": UserSessionsEnded,
    "user.password_changed": UserSessionsEnded,
    "user.role_changed": UserRoleChanged,
    "user.disabled": UserDisabled,
}
