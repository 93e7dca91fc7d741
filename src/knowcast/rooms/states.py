"""The room's life: scheduled → live → ended. Any other move is refused with a code."""

from __future__ import annotations

import enum


class RoomState(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class AccessMode(enum.StrEnum):
    PUBLIC = "public"
    TICKET = "ticket"  # enforced once commerce sells tickets
    MEMBERS = "members"  # enforced once commerce sells memberships


TRANSITIONS: dict[RoomState, frozenset[RoomState]] = {
    RoomState.SCHEDULED: frozenset({RoomState.LIVE, RoomState.ENDED}),  # ended unstarted = cancelled
    RoomState.LIVE: frozenset({RoomState.ENDED}),
    RoomState.ENDED: frozenset(),
}


def can_transition(current: RoomState, target: RoomState) -> bool:
    return target in TRANSITIONS[current]
