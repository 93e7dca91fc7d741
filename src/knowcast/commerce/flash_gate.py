"""The flash-sale gate: an atomic counter in front of the database that answers losers without touching it.

The database is the truth (``flash_sales.stock_left`` and the per-user counters, changed only by conditional
UPDATEs); a gate is a cache of it, loaded from it, that turns away buyers once the stock or their limit is
gone. Every unit a gate lets through is confirmed by the database in the same transaction as the order, so
a gate that lets too many through (after a crash, say) causes a "sold out" answer, never an oversell.

``MemoryGate`` (the default) lives in one process; asyncio runs one coroutine at a time, so a check and a
decrement with no ``await`` between them are atomic. ``RedisGate`` (redis_gate.py) does the same in a Lua
script, shared by every process.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    WON = "won"
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"


@dataclass(frozen=True, slots=True)
class SaleKey:
    """Identifies one sale's gate state; ``version`` keeps a re-used id (after a database reset) apart."""

    sale_id: int
    version: int


@dataclass(frozen=True, slots=True)
class Claim:
    """Units the gate let one buyer take, until the database confirms or refuses them."""

    claim_id: str
    sale: SaleKey
    user_id: int
    quantity: int
    limit: int


class FlashGate:
    """The interface. ``load`` is given the database's truth and must be idempotent across callers."""

    async def is_loaded(self, sale: SaleKey) -> bool:
        raise NotImplementedError

    async def load(self, sale: SaleKey, stock_left: int, counts: dict[int, int], ttl_seconds: int) -> None:
        raise NotImplementedError

    async def take(self, claim: Claim) -> Outcome:
        raise NotImplementedError

    async def settle(self, claim: Claim) -> None:
        """The claim's order is committed."""

    async def undo(self, claim: Claim, stock: bool, count: bool) -> None:
        """Take back an unsettled claim: give its units back to the stock and/or the user's count.

        The database refused it for stock (the gate was ahead): count only. For the user's limit: stock only.
        Its process died before writing the order: both.
        """
        raise NotImplementedError

    async def release(self, sale: SaleKey, user_id: int, quantity: int, token: str) -> None:
        """An order's units came back (it expired unpaid); ``token`` makes a repeated release a no-op."""
        raise NotImplementedError

    async def stock_left(self, sale: SaleKey) -> int | None:
        raise NotImplementedError

    async def stale_claims(self, sale: SaleKey, older_than_s: float) -> list[Claim]:
        """Claims taken but neither settled nor refused for a while (their process may have died)."""
        return []

    async def forget(self, sale: SaleKey) -> None:
        """Drop a finished sale's state."""

    async def close(self) -> None:
        """Release connections."""


@dataclass
class _SaleState:
    stock: int
    counts: dict[int, int]
    released: set[str] = field(default_factory=set)


class MemoryGate(FlashGate):
    def __init__(self) -> None:
        self._sales: dict[SaleKey, _SaleState] = {}

    async def is_loaded(self, sale: SaleKey) -> bool:
        return sale in self._sales

    async def load(self, sale: SaleKey, stock_left: int, counts: dict[int, int], ttl_seconds: int) -> None:
        self._sales.setdefault(sale, _SaleState(stock=stock_left, counts=dict(counts)))

    def take_now(self, claim: Claim) -> Outcome:
        """Synchronous and therefore atomic under asyncio."""
        state = self._sales[claim.sale]
        have = state.counts.get(claim.user_id, 0)
        if have + claim.quantity > claim.limit:
            return Outcome.LIMIT_REACHED
        if state.stock < claim.quantity:
            return Outcome.SOLD_OUT
        state.stock -= claim.quantity
        state.counts[claim.user_id] = have + claim.quantity
        return Outcome.WON

    async def take(self, claim: Claim) -> Outcome:
        return self.take_now(claim)

    async def undo(self, claim: Claim, stock: bool, count: bool) -> None:
        state = self._sales.get(claim.sale)
        if state is None:
            return
        if stock:
            state.stock += claim.quantity
        if count:
            state.counts[claim.user_id] = max(0, state.counts.get(claim.user_id, 0) - claim.quantity)

    async def release(self, sale: SaleKey, user_id: int, quantity: int, token: str) -> None:
        state = self._sales.get(sale)
        if state is None or token in state.released:
            return  # not loaded: it will load the database's truth, which already has these units back
        state.released.add(token)
        state.stock += quantity
        state.counts[user_id] = max(0, state.counts.get(user_id, 0) - quantity)

    async def stock_left(self, sale: SaleKey) -> int | None:
        state = self._sales.get(sale)
        return None if state is None else state.stock

    async def forget(self, sale: SaleKey) -> None:
        self._sales.pop(sale, None)
