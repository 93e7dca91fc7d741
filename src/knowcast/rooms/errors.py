"""The error codes rooms raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class RoomsCode(StrEnum):
    ROOM_ALREADY_GUEST = "room.already_guest"
    ROOM_ALREADY_MODERATOR = "room.already_moderator"
    ROOM_COVER_TOO_LARGE = "room.cover_too_large"
    ROOM_COVER_TYPE = "room.cover_type"
    ROOM_ENDED = "room.ended"
    ROOM_ILLEGAL_TRANSITION = "room.illegal_transition"
    ROOM_MEMBERS_ONLY = "room.members_only"
    ROOM_NOT_FOUND = "room.not_found"
    ROOM_NOT_HOST = "room.not_host"
    ROOM_TICKET_REQUIRED = "room.ticket_required"
    ROOM_UNKNOWN_STATE = "room.unknown_state"
