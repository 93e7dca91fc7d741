"""A server process killed with SIGKILL in the middle of a flash sale (real processes, real HTTP).

After the restart no order is lost that a buyer was told they won, no stock is leaked (the sale still sells
out exactly) and none is doubled (never more orders than units, never two for one buyer). Run on SQLite
with the in-process gate, and with two processes on PostgreSQL and Redis where one dies mid-sale and the
other gives the dead one's unfinished gate claims back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from benchmarks.flash_sale import prepare
from sqlalchemy import func, select

from knowcast import csrf
from knowcast.commerce import counters, flash
from knowcast.commerce.models import Order
from knowcast.commerce.promotions import FlashSale
from knowcast.commerce.redis_gate import RedisGate
from knowcast.db.engine import Database
from knowcast.settings import load_settings
from tests.live_server import SECRET, LiveServer, start_server
from tests.services import require_redis

STOCK, BUYERS, KILL_AFTER_WINS = 40, 200, 12


@dataclass
class Sale:
    sale_id: int
    tokens: list[str]
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # buyer index → definite answer


async def _attempt(http: httpx.AsyncClient, server: LiveServer, sale: Sale, n: int) -> None:
    nonce = "crash-test"
    headers = {
        "cookie": f"kc_session={sale.tokens[n]}; kc_csrf={nonce}",
        "x-csrf-token": csrf.token_for(SECRET, nonce),
    }
    url = f"{server.url}/api/v1/flash-sales/{sale.sale_id}/attempts"
    response = await http.post(url, json={"idempotency_key": f"buyer-{n:06d}"}, headers=headers)
    body = response.json()
    assert response.status_code == 200, body
    sale.answers[n] = body


async def _fire_until_killed(servers: list[LiveServer], victim: LiveServer, sale: Sale, buyers: range) -> None:
    """Fire buyers at the servers; kill ``victim`` once KILL_AFTER_WINS buyers have heard "won"."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=60)) as http:
        tasks = [asyncio.create_task(_attempt(http, servers[n % len(servers)], sale, n)) for n in buyers]
        while sum(a["outcome"] == "won" for a in sale.answers.values()) < KILL_AFTER_WINS:
            assert not all(t.done() for t in tasks), "the sale ended before the kill"
            await asyncio.sleep(0.005)
        victim.process.kill()
        victim.process.wait()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _fire_rest(server: LiveServer, sale: Sale, buyers: range) -> None:
    """Everyone without an answer tries again (same idempotency key) on a live server."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=40)) as http:
        todo = [n for n in buyers if n not in sale.answers]
        await asyncio.gather(*(_attempt(http, server, sale, n) for n in todo))
    assert len(sale.answers) == len(buyers)


async def _check(database_url: str, sale: Sale) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            rows = (await session.execute(select(Order).where(Order.flash_sale_id == sale.sale_id))).scalars().all()
            by_id = {o.id: o for o in rows}
            row = await session.get(FlashSale, sale.sale_id)
            held = await counters.counts(session, counters.sale_scope(sale.sale_id))
            users = await session.scalar(
                select(func.count(func.distinct(Order.user_id))).where(Order.flash_sale_id == sale.sale_id)
            )
    finally:
        await db.dispose()
    won = {n: a["order"]["id"] for n, a in sale.answers.items() if a["outcome"] == "won"}
    assert all(order_id in by_id for order_id in won.values()), "a buyer told 'won' has no order"
    assert row is not None and row.stock_left == 0, f"stock leaked: {row.stock_left if row else None} left"
    assert len(rows) == STOCK and users == STOCK, "more (or fewer) orders than units, or two for one buyer"
    assert sum(held.values()) == STOCK
    assert set(won.values()) == set(by_id), "an order nobody was told about"


async def _setup(tmp: Path, database_url: str) -> tuple[Sale, Path]:
    data_dir = tmp / "data"
    settings = load_settings(
        database_url=database_url, data_dir=data_dir, secret_key=SECRET, argon2_time_cost=1, argon2_memory_kib=8
    )
    _, sale_id, tokens = await prepare(settings, BUYERS, STOCK, reset=False)
    return Sale(sale_id, tokens), data_dir


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "KNOWCAST_DATA_DIR": str(data_dir),
        "KNOWCAST_INGEST": "off",
        "KNOWCAST_FLASH_HOLD_SECONDS": "900",
        "KNOWCAST_COMMERCE_SWEEP_SECONDS": "0.3",
        "KNOWCAST_FLASH_CLAIM_STALE_SECONDS": "1",
        **extra,
    }


async def test_sqlite_server_killed_mid_sale(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    sale, data_dir = await _setup(tmp_path, url)
    server = start_server(tmp_path, url, **_env(data_dir))
    try:
        await _fire_until_killed([server], server, sale, range(BUYERS))
        again = start_server(tmp_path, url, **_env(data_dir))
        try:
            await _fire_rest(again, sale, range(BUYERS))
        finally:
            again.stop()
    finally:
        server.stop()
    await _check(url, sale)


async def test_two_processes_on_postgres_and_redis_one_killed_mid_sale(tmp_path: Path, scratch_postgres: str) -> None:
    redis_url = require_redis()
    sale, data_dir = await _setup(tmp_path, scratch_postgres)
    env = _env(data_dir, KNOWCAST_REDIS_URL=redis_url)
    first = start_server(tmp_path, scratch_postgres, **env)
    second = start_server(tmp_path, scratch_postgres, **env)
    try:
        await _fire_until_killed([first, second], first, sale, range(BUYERS // 2))
        await _wait_for_reconciled(scratch_postgres, redis_url, sale)
        await _fire_rest(second, sale, range(BUYERS))
    finally:
        first.stop()
        second.stop()
    await _check(scratch_postgres, sale)


async def _wait_for_reconciled(database_url: str, redis_url: str, sale: Sale) -> None:
    """The survivor's sweeper settles or gives back every claim the dead process left in Redis."""
    db = Database(database_url)
    async with db.session() as session:
        row = await session.get(FlashSale, sale.sale_id)
        assert row is not None
        key = flash.sale_key(row)
    await db.dispose()
    gate = RedisGate(redis_url)
    try:
        for _ in range(600):
            if not await gate.stale_claims(key, older_than_s=-1):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the dead process's claims were never given back")
    finally:
        await gate.close()
