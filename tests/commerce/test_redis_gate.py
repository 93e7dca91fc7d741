"""The Redis flash gate: one Lua script per step, shared by every process (here: two gate objects, each with
its own connection, as two server processes would have)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

from knowcast.commerce.flash_gate import Claim, MemoryGate, Outcome, SaleKey
from knowcast.commerce.redis_gate import RedisGate
from tests.services import require_redis


def _sale() -> SaleKey:
    return SaleKey(sale_id=secrets.randbelow(10**9), version=secrets.randbelow(10**12))


async def test_two_processes_sell_exactly_the_stock() -> None:
    url = require_redis()
    first, second = RedisGate(url), RedisGate(url)
    sale = _sale()
    try:
        await first.load(sale, stock_left=50, counts={}, ttl_seconds=600)
        await second.load(sale, stock_left=999, counts={}, ttl_seconds=600)  # the first load wins
        claims = [Claim(f"c{n}", sale, user_id=n % 120, quantity=1, limit=1) for n in range(400)]
        outcomes = await asyncio.gather(*((first if n % 2 else second).take(c) for n, c in enumerate(claims)))
        counted = Counter(outcomes)
        assert counted[Outcome.WON] == 50
        assert counted[Outcome.WON] + counted[Outcome.SOLD_OUT] + counted[Outcome.LIMIT_REACHED] == 400
        assert await first.stock_left(sale) == 0
    finally:
        await first.forget(sale)
        await first.close()
        await second.close()


async def test_undo_release_and_stale_claims() -> None:
    gate = RedisGate(require_redis())
    sale = _sale()
    try:
        await gate.load(sale, stock_left=2, counts={7: 1}, ttl_seconds=600)
        assert await gate.take(Claim("a", sale, 7, 1, 1)) is Outcome.LIMIT_REACHED
        claim = Claim("b", sale, 8, 1, 1)
        assert await gate.take(claim) is Outcome.WON
        assert [c.claim_id for c in await gate.stale_claims(sale, older_than_s=-1)] == ["b"]
        await gate.undo(claim, stock=True, count=True)
        await gate.undo(claim, stock=True, count=True)  # a second undo of the same claim changes nothing
        assert await gate.stock_left(sale) == 2
        assert await gate.take(Claim("c", sale, 8, 1, 1)) is Outcome.WON
        await gate.settle(Claim("c", sale, 8, 1, 1))
        await gate.release(sale, 8, 1, token="order:5")
        await gate.release(sale, 8, 1, token="order:5")  # repeated: no double return
        assert await gate.stock_left(sale) == 2
        assert await gate.stale_claims(sale, older_than_s=-1) == []
    finally:
        await gate.forget(sale)
        await gate.close()


async def test_memory_gate_is_atomic_under_asyncio() -> None:
    gate, sale = MemoryGate(), _sale()
    await gate.load(sale, 10, {}, 600)
    outcomes = await asyncio.gather(*(gate.take(Claim(f"c{n}", sale, n, 1, 1)) for n in range(100)))
    assert Counter(outcomes) == {Outcome.WON: 10, Outcome.SOLD_OUT: 90}
