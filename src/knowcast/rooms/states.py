"""The room's life: scheduled → live ⇄ reconnecting → ended. Any other move is refused with a code.

"reconnecting" is the video plane's: the publisher dropped and the room waits a grace period for it to return
before it ends, so a flaky uplink does not end the show.
"""

from __future__ import annotations

import enum


class RoomState(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


class AccessMode(enum.StrEnum):
    PUBLIC = "public"
    TICKET = "ticket"  # enforced once commerce sells tickets
    MEMBERS = "members"  # enforced once commerce sells memberships


TRANSITIONS: dict[RoomState, frozenset[RoomState]] = {
    RoomState.SCHEDULED: frozenset({RoomState.LIVE, RoomState.ENDED}),  # ended unstarted = cancelled
    RoomState.LIVE: frozenset({RoomState.RECONNECTING, RoomState.ENDED}),
    RoomState.RECONNECTING: frozenset({RoomState.LIVE, RoomState.ENDED}),
    RoomState.ENDED: frozenset(),
}


def can_transition(current: RoomState, target: RoomState) -> bool:
    return target in TRANSITIONS[current]


ON_AIR = frozenset({RoomState.LIVE, RoomState.RECONNECTING})
