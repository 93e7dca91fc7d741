"""Redis pub/sub between server processes: one message per room per tick per process.

A Lua script gives the tick its sequence number, adds its likes and publishes it in one atomic step, so
every subscriber receives a room's ticks in sequence order. Viewer counts are summed from a hash where each
process writes its own count every second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from knowcast import tasks
from knowcast.realtime.fanout.base import FanoutBackend

log = logging.getLogger(__name__)
PREFIX = "kc:rt"
KEY_TTL = 7 * 86400
FRESH_SECONDS = 5

PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local likes = redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[3], seq .. ' ' .. likes .. ' ' .. ARGV[2])
return seq
"""

PEAK = """
local peak = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > peak then peak = tonumber(ARGV[1]) end
redis.call('SET', KEYS[1], peak, 'EX', ARGV[2])
return peak
"""


class RedisFanout(FanoutBackend):
    name = "redis"

    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.process_id = f"{os.getpid()}-{secrets.token_hex(3)}"
        self._redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    def _key(self, room_id: int, what: str) -> str:
        return f"{self.prefix}:{room_id}:{what}"

    def _channel(self, room_id: int) -> str:
        return f"{self.prefix}:room:{room_id}"

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the Redis fan-out backend is not started")
        return self._redis

    async def start(self) -> None:
        self._redis = Redis.from_url(self.url)
        self._publish = self._redis.register_script(PUBLISH)
        self._peak = self._redis.register_script(PEAK)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(f"{self.prefix}:room:*")
        self._listener = asyncio.create_task(self._listen(self._pubsub), name="knowcast-redis-fanout")

    async def stop(self) -> None:
        await tasks.cancel(self._listener)
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        if self._redis is not None:
            await self._redis.aclose()
        self._redis = self._pubsub = self._listener = None

    async def _listen(self, pubsub: PubSub) -> None:
        prefix = f"{self.prefix}:room:".encode()
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except (RedisError, OSError, TimeoutError):
                log.warning("redis fan-out connection lost; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "pmessage":
                continue
            self._on_message(message["channel"], message["data"], prefix)

    def _on_message(self, channel: bytes, data: bytes, prefix: bytes) -> None:
        try:
            room_id = int(channel[len(prefix) :])
            seq, likes, body = data.split(b" ", 2)
            self.deliver(room_id, int(seq), int(likes), body, None)
        except Exception:  # one bad message must not stop the listener
            log.exception("cannot deliver a fan-out message", extra={"channel": channel[:64]})

    async def publish(self, room_id: int, body: bytes, payload: dict[str, Any], likes_delta: int) -> None:
        keys = [self._key(room_id, "seq"), self._key(room_id, "likes"), self._channel(room_id)]
        await self._publish(keys=keys, args=[likes_delta, body, KEY_TTL])

    async def position(self, room_id: int) -> tuple[int, int]:
        seq, likes = await self.redis.mget(self._key(room_id, "seq"), self._key(room_id, "likes"))
        return int(seq or 0), int(likes or 0)

    async def viewers(self, local: dict[int, int]) -> dict[int, tuple[int, int]]:
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for room_id, count in local.items():
                key = self._key(room_id, "viewers")
                pipe.hset(key, self.process_id, f"{count} {now:.0f}")
                pipe.expire(key, 60)
                pipe.hgetall(key)
            replies = await pipe.execute()
        result: dict[int, tuple[int, int]] = {}
        for index, room_id in enumerate(local):
            total = _fresh_total(replies[index * 3 + 2], now)
            peak = int(await self._peak(keys=[self._key(room_id, "peak")], args=[total, KEY_TTL]))
            result[room_id] = (total, peak)
        return result


def _fresh_total(entries: dict[bytes, bytes], now: float) -> int:
    total = 0
    for value in entries.values():
        count, _, stamp = value.partition(b" ")
        if now - float(stamp or 0) <= FRESH_SECONDS:
            total += int(count)
    return total
