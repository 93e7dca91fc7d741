"""`knowcast bench flash-sale` runs as a user would (a real subprocess: a server, load generator processes,
a small crowd): its JSON line carries every field issue 5 names and agrees with the database — exactly
min(stock, buyers) orders, none oversold, one per buyer, every buyer answered. Throughput and latency are
printed, never asserted (the measured figures are in docs/benchmarks.md "Flash sale")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.services import require_redis
from tests.test_cli import run

FIELDS = {"buyers", "stock", "orders", "oversold", "duplicates_per_user", "unanswered", "attempts_per_s", "p50_ms"}


def _bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    done = run(tmp_path, "bench", "flash-sale", *args)
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert FIELDS | {"p99_ms"} <= result.keys()
    return result


def _sold_exactly(result: dict[str, Any], buyers: int, stock: int) -> None:
    assert (result["buyers"], result["stock"]) == (buyers, stock)
    assert result["orders"] == min(buyers, stock) == result["won_answers"]
    assert result["oversold"] == 0 and result["duplicates_per_user"] == 0 and result["unanswered"] == 0
    assert result["attempts_per_s"] > 0 and 0 < result["p50_ms"] <= result["p99_ms"]


def test_one_process_on_sqlite_sells_the_stock_exactly(tmp_path: Path) -> None:
    result = _bench(tmp_path, "--buyers", "120", "--stock", "15", "--connections", "16")
    _sold_exactly(result, 120, 15)
    assert result["database"] == "sqlite+aiosqlite" and result["gate"] == "memory" and result["processes"] == 1


def test_a_crowd_smaller_than_the_stock_all_win_cold(tmp_path: Path) -> None:
    """Buyers who never opened the room, on a server that remembers no session: each is looked up, each wins."""
    args = ["--buyers", "30", "--stock", "50", "--connections", "8", "--cold", "--session-cache", "0"]
    result = _bench(tmp_path, *args)
    _sold_exactly(result, 30, 50)
    assert result["warm"] is False and result["session_cache_s"] == 0


def test_two_processes_on_postgres_and_redis_sell_the_stock_exactly(tmp_path: Path, scratch_postgres: str) -> None:
    redis_url = require_redis()
    args = ["--buyers", "120", "--stock", "15", "--connections", "16", "--processes", "2"]
    result = _bench(tmp_path, *args, "--database", scratch_postgres, "--redis", redis_url)
    _sold_exactly(result, 120, 15)
    assert result["database"].startswith("postgresql") and result["gate"] == "redis" and result["processes"] == 2
