"""The seam between the hub and the processes that share a room.

A backend is the room's sequencer: it gives each published tick the room's next sequence number and the
running likes total, then carries the tick to the hub of every process (this one included), in sequence
order. Subclasses only do I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# deliver(room_id, seq, likes_total, body, payload): body is the tick as JSON without seq/likes;
# payload is the same tick already parsed when the backend has it (in-process), else None.
Deliver = Callable[[int, int, int, bytes, dict[str, Any] | None], None]


class FanoutBackend:
    name = "base"

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    def bind(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def deliver(self, room_id: int, seq: int, likes: int, body: bytes, payload: dict[str, Any] | None) -> None:
        if self._deliver is not None:
            self._deliver(room_id, seq, likes, body, payload)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, room_id: int, body: bytes, payload: dict[str, Any], likes_delta: int) -> None:
        raise NotImplementedError

    async def position(self, room_id: int) -> tuple[int, int]:
        """The room's latest (seq, likes total), for a process that starts serving it."""
        raise NotImplementedError

    async def viewers(self, local: dict[int, int]) -> dict[int, tuple[int, int]]:
        """Given this process's viewer count per room, the (total, peak) across processes."""
        raise NotImplementedError
