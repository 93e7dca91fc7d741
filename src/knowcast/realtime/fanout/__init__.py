"""Fan-out backends: in-process (default) and Redis pub/sub (several server processes serve one room)."""

from __future__ import annotations

from knowcast.realtime.fanout.base import Deliver, FanoutBackend
from knowcast.realtime.fanout.memory import MemoryFanout


def backend_for(redis_url: str | None, prefix: str = "kc:rt") -> FanoutBackend:
    if redis_url:
        from knowcast.realtime.fanout.redis import RedisFanout

        return RedisFanout(redis_url, prefix)
    return MemoryFanout()


__all__ = ["Deliver", "FanoutBackend", "MemoryFanout", "backend_for"]
