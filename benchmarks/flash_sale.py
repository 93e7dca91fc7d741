"""`knowcast bench flash-sale --buyers N --stock S [--processes 2 --redis URL --database URL]`.

Prepares a database (a fresh SQLite file in a temporary folder, or the PostgreSQL given) with a host, a
room, a shelf product and one running flash sale of S units (one per buyer), plus N buyer accounts with
sessions created directly (not through the password form). Starts `knowcast serve` (one process, or several
sharing Redis and PostgreSQL), then fires every buyer once at the sale the way the viewer's page does:
``POST /api/v1/flash-sales/<id>/attempts`` with the session cookie and the CSRF header, over keep-alive
HTTP/1.1 connections (benchmarks/flash_loadgen.py, its own process). Prints one JSON line:
buyers, stock, orders (flash orders in the database), oversold, duplicates_per_user, unanswered (no
definite won / sold_out / limit_reached answer), attempts_per_s, p50_ms, p99_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks import handshake
from knowcast.settings import Settings, load_settings

SECRET = "flash-sale-benchmark-secret-key-0123456789"


def run(args: argparse.Namespace, _settings: Settings) -> int:
    with tempfile.TemporaryDirectory(prefix="kc-flash-") as tmp:
        result = bench(args, Path(tmp))
    print(json.dumps(result))
    return 0


def env_for(tmp: Path, args: argparse.Namespace, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWCAST_")}
    env.update(
        KNOWCAST_DATABASE_URL=args.database or f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        KNOWCAST_DATA_DIR=str(tmp / "data"),
        KNOWCAST_SECRET_KEY=SECRET,
        KNOWCAST_PUBLIC_URL=f"http://127.0.0.1:{port}",
        KNOWCAST_LOG_LEVEL="WARNING",
        KNOWCAST_AUTO_MIGRATE="false",
        KNOWCAST_INGEST="off",
        KNOWCAST_ARGON2_TIME_COST="1",
        KNOWCAST_ARGON2_MEMORY_KIB="8",
    )
    if args.redis:
        env["KNOWCAST_REDIS_URL"] = args.redis
    if args.session_cache is not None:
        env["KNOWCAST_FLASH_SESSION_CACHE_SECONDS"] = str(args.session_cache)
    return env


def settings_from(env: dict[str, str]) -> Settings:
    return load_settings(**{k[len("KNOWCAST_") :].lower(): v for k, v in env.items() if k.startswith("KNOWCAST_")})


async def prepare(settings: Settings, buyers: int, stock: int, reset: bool) -> tuple[int, int, list[str]]:
    """A migrated database with a host, a room, a shelf product, a running sale and signed-in buyers."""
    from knowcast.accounts import service as accounts
    from knowcast.accounts.models import Role
    from knowcast.accounts.schemas import SignUp
    from knowcast.app import create_app
    from knowcast.catalog import service as catalog
    from knowcast.catalog.schemas import ProductCreate
    from knowcast.commerce import flash, shelf
    from knowcast.commerce.schemas import FlashSaleCreate
    from knowcast.context import AppContext
    from knowcast.db import migrate
    from knowcast.db.types import utcnow
    from knowcast.rooms import service as rooms
    from knowcast.rooms.schemas import RoomCreate

    if reset:
        await _reset_postgres(settings.database_url)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    app = create_app(settings)  # the whole app, so that every domain sees the host's actions (analytics the room)
    ctx: AppContext = app.state.ctx
    tokens = []
    async with app.router.lifespan_context(app), ctx.db.session() as session:
        data = SignUp(email="host@bench.example.com", password="benchmark password", display_name="主播")
        host = await accounts.create_user(session, ctx, data, Role.HOST)
        room = await rooms.create_room(session, ctx, host, RoomCreate(title="秒杀压测", scheduled_at=utcnow()))
        product = ProductCreate(kind="course", title="理财入门课", price=19900, stock=stock)  # type: ignore[arg-type]
        product_row = await catalog.create_product(session, ctx, host, product)
        await shelf.add(session, ctx, room, product_row.id)
        sale_data = FlashSaleCreate(product_id=product_row.id, price=990, stock=stock, duration_seconds=3600)
        sale = await flash.create_sale(session, ctx, room, sale_data)
        for n in range(buyers):
            data = SignUp(email=f"buyer{n}@bench.example.com", password="benchmark password", display_name=f"买家{n}")
            user = await accounts.create_user(session, ctx, data, Role.VIEWER)
            tokens.append((await accounts.open_session(session, ctx, user, ip=None, user_agent=None)).token)
    return room.id, sale.id, tokens


async def prepare_kept(
    settings: Settings, buyers: int, stock: int, keep: str | None, tmp: Path
) -> tuple[int, int, list[str]]:
    """prepare() on SQLite, or a copy of the database an earlier run kept in ``keep`` for the same buyers and
    stock (creating 10,000 accounts through the accounts service takes minutes); its sale starts now."""
    from knowcast.db import migrate

    if not keep:
        return await prepare(settings, buyers, stock, reset=False)
    kept = Path(keep) / f"{buyers}-{stock}"
    if not (kept / "job.json").exists():
        kept.mkdir(parents=True, exist_ok=True)
        job = await prepare(settings, buyers, stock, reset=False)
        with sqlite3.connect(tmp / "bench.db") as source, sqlite3.connect(kept / "bench.db") as copy:
            source.backup(copy)  # with what is still in the write-ahead log
        shutil.copytree(tmp / "data", kept / "data")  # the personal-data keys the rows were encrypted with
        (kept / "job.json").write_text(json.dumps(job))
    shutil.copy(kept / "bench.db", tmp / "bench.db")
    shutil.copytree(kept / "data", tmp / "data", dirs_exist_ok=True)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)  # the code may have moved on since
    now = datetime.now(UTC).replace(tzinfo=None)
    with sqlite3.connect(tmp / "bench.db") as db:
        db.execute("UPDATE flash_sales SET starts_at = ?, ends_at = ?", (str(now), str(now + timedelta(hours=1))))
    room_id, sale_id, tokens = json.loads((kept / "job.json").read_text())
    return room_id, sale_id, tokens


async def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from knowcast.db.engine import make_engine

    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def count_orders(settings: Settings, sale_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from knowcast.commerce.models import Order
    from knowcast.commerce.promotions import FlashSale
    from knowcast.db.engine import Database

    db = Database(settings.database_url)
    async with db.session() as session:
        orders = int(await session.scalar(select(func.count()).where(Order.flash_sale_id == sale_id)) or 0)
        per_user = select(Order.user_id).where(Order.flash_sale_id == sale_id).group_by(Order.user_id)
        dupes = select(func.count()).select_from(per_user.having(func.count() > 1).subquery())
        duplicates = int(await session.scalar(dupes) or 0)
        sale = await session.get(FlashSale, sale_id)
        left = sale.stock_left if sale else -1
    await db.dispose()
    return {"orders": orders, "duplicates_per_user": duplicates, "stock_left": left}


def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    if args.processes > 1 and not args.redis:
        raise SystemExit("--processes above 1 needs --redis (the gate must be shared)")
    ports = [_free_port() for _ in range(args.processes)]
    env = env_for(tmp, args, ports[0])
    settings = settings_from(env)
    if args.database:
        room_id, sale_id, tokens = asyncio.run(prepare(settings, args.buyers, args.stock, reset=True))
    else:
        room_id, sale_id, tokens = asyncio.run(prepare_kept(settings, args.buyers, args.stock, args.keep, tmp))
    if args.redis:
        _flush_gate(args.redis)
    servers = [_spawn(env, port, tmp / f"server-{port}.log") for port in ports]
    try:
        for server, port in zip(servers, ports, strict=True):
            _wait_healthy(port, server)
        report = _fire(args, ports, room_id, sale_id, tokens, tmp, servers)
    except Exception:
        for log in [*(tmp / f"server-{port}.log" for port in ports), *tmp.glob("loadgen-*.log")]:
            print(f"--- {log.name}", log.read_text()[-4000:], sep="\n", file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    counted = asyncio.run(count_orders(settings, sale_id))
    return {
        "buyers": args.buyers,
        "stock": args.stock,
        "orders": counted["orders"],
        "oversold": max(0, counted["orders"] - args.stock) + max(0, -counted["stock_left"]),
        "duplicates_per_user": counted["duplicates_per_user"],
        "unanswered": report["unanswered"],
        "attempts_per_s": report["attempts_per_s"],
        "p50_ms": report["p50_ms"],
        "p99_ms": report["p99_ms"],
        "won_answers": report["outcomes"].get("won", 0),
        "p50_ms_by_outcome": report["p50_ms_by_outcome"],
        "p99_ms_by_outcome": report["p99_ms_by_outcome"],
        "server_cpu_us_per_attempt": report["server_cpu_us_per_attempt"],
        "loadgen_cpu_us_per_attempt": report["loadgen_cpu_us_per_attempt"],
        "load_avg_1m_before": report["load_avg_1m_before"],
        "load_avg_1m_after": report["load_avg_1m_after"],
        "processes": args.processes,
        "loadgen_processes": max(1, args.loadgen_processes),
        "database": settings.database_url.split(":", 1)[0],
        "gate": "redis" if args.redis else "memory",
        "warm": not args.cold,
        "session_cache_s": settings.flash_session_cache_seconds,
    }


def _fire(
    args: argparse.Namespace,
    ports: list[int],
    room_id: int,
    sale_id: int,
    tokens: list[str],
    tmp: Path,
    servers: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:
    """Run the load generator's workers, start them together, and merge what they measured."""
    visit = {"events": "/api/v1/analytics/events", "room_id": room_id}  # the page's view_start beacon
    job = {
        "ports": ports,
        "path": f"/api/v1/flash-sales/{sale_id}/attempts",
        "buyers": browsers(tokens, consent=True),
        "connections": args.connections,
        "visit": None if args.cold else {"commerce": f"/api/v1/rooms/{room_id}/commerce", **visit},
    }
    job_file = tmp / "job.json"
    job_file.write_text(json.dumps(job))
    count = max(1, args.loadgen_processes)
    workers = [_start_worker(job_file, n, count, tmp) for n in range(count)]
    try:
        for worker in workers:
            handshake.expect(worker, "ready")
        load_before = os.getloadavg()[0]
        server_cpu = [_cpu_seconds(server.pid) for server in servers]
        for worker in workers:
            handshake.say(worker, "go")
        reports = [_report(worker, job_file, n) for n, worker in enumerate(workers)]
        server_cpu = [_cpu_seconds(s.pid) - before for s, before in zip(servers, server_cpu, strict=True)]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    return _merge(reports, len(tokens), sum(server_cpu), load_before)


def browsers(tokens: list[str], consent: bool) -> list[dict[str, Any]]:
    """What each buyer's browser holds: its session, its own CSRF cookie and header, the consent banner's
    answer, and the retry key the page keeps for the sale."""
    from knowcast import csrf

    found: list[dict[str, Any]] = []
    for token in tokens:
        nonce = csrf.new_nonce()
        found.append(
            {
                "token": token,
                "nonce": nonce,
                "csrf": csrf.token_for(SECRET, nonce),
                "consent": consent,
                "key": secrets.token_urlsafe(12),
            }
        )
    return found


def _merge(reports: list[dict[str, Any]], attempts: int, server_cpu: float, load_before: float) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    by_outcome: dict[str, list[float]] = {}
    for report in reports:
        outcomes.update(report["outcomes"])
        for outcome, values in report["latencies"].items():
            by_outcome.setdefault(outcome, []).extend(values)
    latencies = sorted(value for values in by_outcome.values() for value in values)
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    definite = sum(outcomes[k] for k in ("won", "sold_out", "limit_reached"))
    return {
        "unanswered": attempts - definite,
        "attempts_per_s": round(attempts / elapsed, 1),
        "p50_ms": _pct(latencies, 0.50),
        "p99_ms": _pct(latencies, 0.99),
        "outcomes": dict(outcomes),
        "p50_ms_by_outcome": {k: _pct(sorted(v), 0.50) for k, v in by_outcome.items()},
        "p99_ms_by_outcome": {k: _pct(sorted(v), 0.99) for k, v in by_outcome.items()},
        "server_cpu_us_per_attempt": round(server_cpu / attempts * 1e6, 1) if server_cpu >= 0 else None,
        "loadgen_cpu_us_per_attempt": round(sum(r["cpu_s"] for r in reports) / attempts * 1e6, 1),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def _pct(values: list[float], p: float) -> float:
    return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1) if values else 0.0


def _start_worker(job_file: Path, index: int, count: int, tmp: Path) -> subprocess.Popen[str]:
    script = Path(__file__).with_name("flash_loadgen.py")
    command = [sys.executable, str(script), str(job_file), "--index", str(index), "--workers", str(count)]
    with (tmp / f"loadgen-{index}.log").open("w") as errors:
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)


def _report(worker: subprocess.Popen[str], job_file: Path, index: int) -> dict[str, Any]:
    handshake.expect(worker, "done")
    report: dict[str, Any] = json.loads(Path(f"{job_file}.{index}.out").read_text())
    return report


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (-1e9 where there is none: the figure is omitted)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1e9
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _flush_gate(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter("kc:flash:*"):
        client.delete(key)
    client.close()


def _spawn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "knowcast", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
