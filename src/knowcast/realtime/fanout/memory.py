"""The in-process backend: one process serves every room; sequencing is a counter."""

from __future__ import annotations

from typing import Any

from knowcast.realtime.fanout.base import FanoutBackend


class MemoryFanout(FanoutBackend):
    name = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._seq: dict[int, int] = {}
        self._likes: dict[int, int] = {}
        self._peak: dict[int, int] = {}

    async def publish(self, room_id: int, body: bytes, payload: dict[str, Any], likes_delta: int) -> None:
        seq = self._seq[room_id] = self._seq.get(room_id, 0) + 1
        likes = self._likes[room_id] = self._likes.get(room_id, 0) + likes_delta
        self.deliver(room_id, seq, likes, body, payload)

    async def position(self, room_id: int) -> tuple[int, int]:
        return self._seq.get(room_id, 0), self._likes.get(room_id, 0)

    async def viewers(self, local: dict[int, int]) -> dict[int, tuple[int, int]]:
        result = {}
        for room_id, count in local.items():
            peak = self._peak[room_id] = max(self._peak.get(room_id, 0), count)
            result[room_id] = (count, peak)
        return result
