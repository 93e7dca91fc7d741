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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

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
    return env


def settings_from(env: dict[str, str]) -> Settings:
    return load_settings(**{k[len("KNOWCAST_") :].lower(): v for k, v in env.items() if k.startswith("KNOWCAST_")})


async def prepare(settings: Settings, buyers: int, stock: int, reset: bool) -> tuple[int, int, list[str]]:
    """A migrated database with a host, a room, a shelf product, a running sale and signed-in buyers."""
    from knowcast.accounts import service as accounts
    from knowcast.accounts.models import Role
    from knowcast.accounts.schemas import SignUp
    from knowcast.app import build_context
    from knowcast.catalog import service as catalog
    from knowcast.catalog.schemas import ProductCreate
    from knowcast.commerce import flash, shelf
    from knowcast.commerce.schemas import FlashSaleCreate
    from knowcast.db import migrate
    from knowcast.db.types import utcnow
    from knowcast.rooms import service as rooms
    from knowcast.rooms.schemas import RoomCreate

    if reset:
        await _reset_postgres(settings.database_url)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    ctx = build_context(settings)
    tokens = []
    async with ctx.db.session() as session:
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
    await ctx.db.dispose()
    return room.id, sale.id, tokens


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
    room_id, sale_id, tokens = asyncio.run(prepare(settings, args.buyers, args.stock, reset=bool(args.database)))
    if args.redis:
        _flush_gate(args.redis)
    servers = [_spawn(env, port, tmp / f"server-{port}.log") for port in ports]
    try:
        for server, port in zip(servers, ports, strict=True):
            _wait_healthy(port, server)
        report = _fire(args, ports, room_id, sale_id, tokens, tmp)
    except Exception:
        for port in ports:
            print((tmp / f"server-{port}.log").read_text()[-4000:], file=sys.stderr)
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
        "processes": args.processes,
        "database": settings.database_url.split(":", 1)[0],
        "gate": "redis" if args.redis else "memory",
        "warm": not args.cold,
    }


def _fire(
    args: argparse.Namespace, ports: list[int], room_id: int, sale_id: int, tokens: list[str], tmp: Path
) -> dict[str, Any]:
    from knowcast import csrf

    nonce = "bench-nonce"
    job = {
        "ports": ports,
        "path": f"/api/v1/flash-sales/{sale_id}/attempts",
        "tokens": tokens,
        "nonce": nonce,
        "csrf": csrf.token_for(SECRET, nonce),
        "connections": args.connections,
        "warm_path": None if args.cold else f"/api/v1/rooms/{room_id}/commerce",
    }
    job_file = tmp / "job.json"
    job_file.write_text(json.dumps(job))
    script = Path(__file__).with_name("flash_loadgen.py")
    done = subprocess.run([sys.executable, str(script), str(job_file)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


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
