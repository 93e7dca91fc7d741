"""The flash-sale gate in Redis, shared by every server process: each step is one Lua script (atomic).

Keys per sale (``kc:flash:<id>:<version>:…``): ``stock`` (units left), ``users`` (hash user → units held),
``claims`` (hash claim id → "user:quantity:taken-at"), ``released`` (set of order tokens already given back).
A claim stays in ``claims`` until its process settles or refuses it; if that process dies first, the sweeper
finds the claim stale and asks the database whether its order exists (see flash.reconcile).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis

from knowcast.commerce.flash_gate import Claim, FlashGate, Outcome, SaleKey

LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

TAKE = """
local stock = tonumber(redis.call('GET', KEYS[1]))
if stock == nil then return -1 end
local q = tonumber(ARGV[2])
local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if have + q > tonumber(ARGV[3]) then return 2 end
if stock < q then return 1 end
redis.call('DECRBY', KEYS[1], q)
redis.call('HINCRBY', KEYS[2], ARGV[1], q)
redis.call('HSET', KEYS[3], ARGV[4], ARGV[1] .. ':' .. ARGV[2] .. ':' .. ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[6])
return 0
"""

# ARGV: claim id, user, quantity, give back stock (1/0), give back the user's count (1/0)
UNDO = """
if redis.call('HDEL', KEYS[3], ARGV[1]) == 0 then return 0 end
if ARGV[4] == '1' then redis.call('INCRBY', KEYS[1], ARGV[3]) end
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[2], ARGV[2], -tonumber(ARGV[3])) end
return 1
"""

# ARGV: token, user, quantity, ttl
RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('INCRBY', KEYS[1], ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[2], -tonumber(ARGV[3]))
return 1
"""

OUTCOMES = {0: Outcome.WON, 1: Outcome.SOLD_OUT, 2: Outcome.LIMIT_REACHED}


class GateNotLoaded(Exception):
    """The sale's keys are gone (expired or flushed): load them again from the database."""


class RedisGate(FlashGate):
    def __init__(self, url: str, prefix: str = "kc:flash") -> None:
        self.redis: Redis = Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self._load = self.redis.register_script(LOAD)
        self._take = self.redis.register_script(TAKE)
        self._undo = self.redis.register_script(UNDO)
        self._release = self.redis.register_script(RELEASE)
        self._ttl: dict[SaleKey, int] = {}

    def keys(self, sale: SaleKey) -> list[str]:
        base = f"{self.prefix}:{sale.sale_id}:{sale.version}"
        return [f"{base}:stock", f"{base}:users", f"{base}:claims", f"{base}:released"]

    async def is_loaded(self, sale: SaleKey) -> bool:
        return bool(await self.redis.exists(self.keys(sale)[0]))

    async def load(self, sale: SaleKey, stock_left: int, counts: dict[int, int], ttl_seconds: int) -> None:
        self._ttl[sale] = ttl_seconds
        args: list[Any] = [stock_left, ttl_seconds]
        for user_id, count in counts.items():
            args += [user_id, count]
        await self._load(keys=self.keys(sale)[:2], args=args)

    async def take(self, claim: Claim) -> Outcome:
        ttl = self._ttl.get(claim.sale, 86400)
        args = [claim.user_id, claim.quantity, claim.limit, claim.claim_id, f"{time.time():.3f}", ttl]
        result = int(cast(int, await self._take(keys=self.keys(claim.sale)[:3], args=args)))
        if result < 0:
            raise GateNotLoaded(str(claim.sale))
        return OUTCOMES[result]

    async def settle(self, claim: Claim) -> None:
        await cast(Awaitable[int], self.redis.hdel(self.keys(claim.sale)[2], claim.claim_id))

    async def undo(self, claim: Claim, stock: bool, count: bool) -> None:
        args = [claim.claim_id, claim.user_id, claim.quantity, "1" if stock else "0", "1" if count else "0"]
        await self._undo(keys=self.keys(claim.sale)[:3], args=args)

    async def release(self, sale: SaleKey, user_id: int, quantity: int, token: str) -> None:
        args = [token, user_id, quantity, self._ttl.get(sale, 86400)]
        await self._release(keys=self.keys(sale), args=args)

    async def stock_left(self, sale: SaleKey) -> int | None:
        value = await self.redis.get(self.keys(sale)[0])
        return None if value is None else int(value)

    async def stale_claims(self, sale: SaleKey, older_than_s: float) -> list[Claim]:
        raw: dict[str, str] = await cast(Awaitable[dict[str, str]], self.redis.hgetall(self.keys(sale)[2]))
        cutoff = time.time() - older_than_s
        stale = []
        for claim_id, value in raw.items():
            user, quantity, taken = value.split(":")
            if float(taken) < cutoff:
                stale.append(Claim(claim_id, sale, int(user), int(quantity), limit=0))
        return stale

    async def forget(self, sale: SaleKey) -> None:
        await self.redis.delete(*self.keys(sale))

    async def close(self) -> None:
        await self.redis.aclose()
