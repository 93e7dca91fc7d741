"""`knowcast bench join --viewers N --seconds S [--signed-in-share F] [--workers K]`: a join storm.

Prepares a database (a fresh SQLite file, or the one given with --database) with a host, a live room with a
shelf of three products, one of them pinned, a running flash sale, and the signed-in share of the viewers
as accounts with sessions written directly (not through the password form: creating thousands of accounts
through argon2 would take minutes and is not what is measured). Starts K `knowcast serve` processes (K > 1:
sharing Redis, behind a real nginx configured from docs/operations.md, see benchmarks/nginx.py), has a few
signed-in chatters leave a chat history in the room, then N simulated browsers arrive spread evenly over S
seconds (benchmarks/join_loadgen.py: page, static assets once per browser, live socket with the analytics
view_start in its join frame, as the page sends it, until ``welcome`` with the commerce snapshot in it).
Prints one JSON line:

``viewers, seconds, joined, errors, joins_per_s, p50_ms, p99_ms, server_cpu_pct, server_rss_mb`` (times from
arrival to ``welcome``; CPU in percent of one core, summed over the server processes, while the browsers
arrive), plus ``server`` (what the servers themselves counted in /metrics: pages, commerce snapshots, view
events, static files and welcomes; behind nginx, the static files are the ones nginx answered itself, from
its log) and ``requests`` (the same as the browsers counted them), ``errors_by``,
``workers``, ``signed_in``, ``database``, ``nginx_cpu_pct``, ``loadgen_cpu_pct`` and the machine's 1-minute
load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks import handshake, nginx
from benchmarks.fanout import _cpu_s, _prioritize, _raise_fd_limit_to_hard, _rss_mb
from benchmarks.flash_sale import browsers as browser_cookies
from knowcast.accounts.passwords import Passwords
from knowcast.settings import Settings, load_settings

SECRET = "flash-sale-benchmark-secret-key-0123456789"  # browsers() signs CSRF tokens with this one
CHATTERS = 12
BROWSERS_PER_LOADGEN = 5000
FD_MARGIN = 512
NICE = {"value": 0}


def _child() -> None:
    """Each server and load generator process: the open-file limit raised, and with --nice its priority
    (in a session of its own, whose autogroup gets the same nice value: see benchmarks/fanout._prioritize)."""
    _raise_fd_limit_to_hard()
    if NICE["value"]:
        _prioritize(NICE["value"])


def run(args: argparse.Namespace, _settings: Settings) -> int:
    with tempfile.TemporaryDirectory(prefix="kc-join-") as tmp:
        result = bench(args, Path(tmp))
    print(json.dumps(result))
    return 0


def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    workers = args.workers
    NICE["value"] = args.nice
    redis_url = args.redis or os.environ.get("KNOWCAST_REDIS_URL")
    if workers > 1 and not redis_url:
        raise SystemExit("--workers above 1 needs --redis URL (or KNOWCAST_REDIS_URL): the processes share rooms")
    if workers > 1 and not nginx.available():
        raise SystemExit(f"--workers above 1 runs behind nginx, which is not installed ({nginx.NGINX})")
    _check_fd_limit(math.ceil(args.viewers / workers))
    ports = [_free_port() for _ in range(workers)]
    front = _free_port() if workers > 1 else ports[0]
    env = env_for(tmp, args, front, redis_url if workers > 1 else None)
    signed_in = round(args.viewers * args.signed_in_share)
    room_id, tokens = asyncio.run(prepare(settings_from(env), signed_in + CHATTERS, args.database is not None))
    chatters, viewer_tokens = tokens[:CHATTERS], tokens[CHATTERS:]
    servers = [_spawn(env, port, tmp / f"server-{port}.log") for port in ports]
    try:
        for server, port in zip(servers, ports, strict=True):
            _wait_healthy(port, server)
        with contextlib.ExitStack() as stack:
            proxy = (
                stack.enter_context(nginx.running(tmp / "nginx", front, ports, preexec=_child)) if workers > 1 else None
            )
            asyncio.run(chat_history(front, room_id, chatters))
            report = storm(args, tmp, front, room_id, viewer_tokens, servers, proxy)
            report["server"] = server_counts(ports, report["requests"].get("events", 0))
            report["server_join_ms"] = server_join_times(ports)
            if proxy is not None:  # nginx serves the static files itself (docs/operations.md)
                report["server"]["asset"] += nginx.static_answers(tmp / "nginx")
    except Exception:
        for log in [*tmp.glob("server-*.log"), *tmp.glob("loadgen-*.log"), tmp / "nginx" / "error.log"]:
            if log.exists():
                print(f"--- {log.name}", log.read_text()[-3000:], sep="\n", file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    return {
        "viewers": args.viewers,
        "seconds": args.seconds,
        **report,
        "workers": workers,
        "nice": args.nice,
        "signed_in": signed_in,
        "database": settings_from(env).database_url.split(":", 1)[0],
    }


def env_for(tmp: Path, args: argparse.Namespace, port: int, redis_url: str | None) -> dict[str, str]:
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
    if redis_url:
        env["KNOWCAST_REDIS_URL"] = redis_url
        env["KNOWCAST_REALTIME_REDIS_PREFIX"] = f"kc:join:{os.getpid()}:{time.time_ns()}"
    return env


def settings_from(env: dict[str, str]) -> Settings:
    return load_settings(**{k[len("KNOWCAST_") :].lower(): v for k, v in env.items() if k.startswith("KNOWCAST_")})


async def prepare(settings: Settings, accounts_wanted: int, reset: bool) -> tuple[int, list[str]]:
    """A live room with a shelf, a pinned product and a running sale; ``accounts_wanted`` signed-in viewers."""
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
    from knowcast.rooms.states import RoomState

    if reset:
        from benchmarks.flash_sale import _reset_postgres

        await _reset_postgres(settings.database_url)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    app = create_app(settings)  # the whole app, so that every domain sees the host's actions
    ctx: AppContext = app.state.ctx
    async with app.router.lifespan_context(app), ctx.db.session() as session:
        data = SignUp(email="host@join.example.com", password="benchmark password", display_name="主播")
        host = await accounts.create_user(session, ctx, data, Role.HOST)
        room = await rooms.create_room(session, ctx, host, RoomCreate(title="万人进场压测", scheduled_at=utcnow()))
        for n, (title, price) in enumerate((("理财入门课", 19900), ("读书会年卡", 36500), ("一对一咨询", 99900))):
            product = ProductCreate(kind="course", title=title, price=price, stock=1000)  # type: ignore[arg-type]
            row = await catalog.create_product(session, ctx, host, product)
            await shelf.add(session, ctx, room, row.id)
            if n == 0:
                await shelf.pin(session, ctx, room, row.id, None)
                sale = FlashSaleCreate(product_id=row.id, price=990, stock=100, duration_seconds=3600)
                await flash.create_sale(session, ctx, room, sale)
        await rooms.transition(session, ctx, room, RoomState.LIVE)
        tokens = await seed_sessions(session, ctx, accounts_wanted, "join")
        await _analytics_written(ctx)
    return room.id, tokens


async def _analytics_written(ctx: Any) -> None:
    """Analytics learns of the room from the bus and writes its registry in batches: write it before this
    preparing app stops, or the servers would count every view start of the storm as ``room.unknown``."""
    from knowcast.analytics.runtime import AnalyticsRuntime

    runtime = ctx.runtime(AnalyticsRuntime)
    await runtime.settle()
    while await runtime.flush():
        pass


async def seed_sessions(session: Any, ctx: Any, count: int, tag: str) -> list[str]:
    """``count`` viewer accounts, each with an open session, written in one transaction; their cookies."""
    import secrets
    from datetime import timedelta

    from knowcast.accounts.models import AuthSession, Role, User
    from knowcast.accounts.service import email_hash, hash_token
    from knowcast.db.types import utcnow

    password = ctx.runtime(Passwords).hash("benchmark password")
    users = [
        User(
            email=f"{tag}{n}@bench.example.com",
            email_hash=email_hash(f"{tag}{n}@bench.example.com"),
            display_name=f"观众{n}",
            password_hash=password,
            role=Role.VIEWER,
        )
        for n in range(count)
    ]
    session.add_all(users)
    await session.flush()
    now, tokens = utcnow(), [secrets.token_urlsafe(32) for _ in users]
    expires = now + timedelta(days=ctx.settings.session_days)
    session.add_all(
        AuthSession(token_hash=hash_token(t), user_id=u.id, created_at=now, last_seen_at=now, expires_at=expires)
        for t, u in zip(tokens, users, strict=True)
    )
    await session.commit()
    return tokens


async def chat_history(port: int, room_id: int, tokens: list[str]) -> None:
    """A few signed-in viewers say something, so that every welcome carries a chat history."""
    import websockets

    url = f"ws://127.0.0.1:{port}/api/v1/rooms/{room_id}/live"
    for n, token in enumerate(tokens):
        async with websockets.connect(url, additional_headers={"Cookie": f"kc_session={token}"}) as socket:
            await socket.send(json.dumps({"type": "join", "v": 1}))
            json.loads(await socket.recv())  # welcome
            await socket.send(json.dumps({"type": "chat", "text": f"来了来了 {n}", "cid": f"c{n}"}))
            await asyncio.sleep(0.05)


def storm(
    args: argparse.Namespace,
    tmp: Path,
    port: int,
    room_id: int,
    tokens: list[str],
    servers: list[subprocess.Popen[bytes]],
    proxy: subprocess.Popen[bytes] | None,
) -> dict[str, Any]:
    """Start the load generators, let the browsers arrive, and merge what they measured."""
    specs = browser_cookies(tokens, consent=True)
    anonymous = browser_cookies([""] * (args.viewers - len(tokens)), consent=True)
    mixed = [spec for pair in zip(specs, anonymous[: len(specs)], strict=False) for spec in pair]
    mixed += specs[len(mixed) // 2 :] + anonymous[len(specs) :]  # signed-in and anonymous interleaved
    job = {"port": port, "room_id": room_id, "seconds": args.seconds, "browsers": mixed[: args.viewers]}
    job_file = tmp / "job.json"
    job_file.write_text(json.dumps(job))
    count = args.loadgen_processes or max(1, math.ceil(args.viewers / BROWSERS_PER_LOADGEN))
    loadgens = [_start_loadgen(job_file, n, count, tmp) for n in range(count)]
    try:
        for loadgen in loadgens:
            handshake.expect(loadgen, "ready")
        load_before = os.getloadavg()[0]
        pids = [server.pid for server in servers]
        cpu0, nginx0, wall0 = _cpu(pids), _cpu([proxy.pid] if proxy else []), time.monotonic()
        for loadgen in loadgens:
            handshake.say(loadgen, "go")
        for loadgen in loadgens:
            handshake.expect(loadgen, "done")
        wall = time.monotonic() - wall0
        server_cpu, nginx_cpu = _cpu(pids) - cpu0, _cpu([proxy.pid] if proxy else []) - nginx0
        rss = sum(_rss_mb(pid) for pid in pids)
        for loadgen in loadgens:
            handshake.say(loadgen, "stop")
        reports = [_report(loadgen, job_file, n) for n, loadgen in enumerate(loadgens)]
    finally:
        for loadgen in loadgens:
            loadgen.kill()
            loadgen.wait()
    merged = merge(reports)
    return {
        **merged,
        "server_cpu_pct": round(100 * server_cpu / wall, 1),
        "server_cpu_ms_per_join": round(1000 * server_cpu / merged["joined"], 2) if merged["joined"] else None,
        "server_rss_mb": round(rss, 1),
        "nginx_cpu_pct": round(100 * nginx_cpu / wall, 1) if proxy else None,
        "loadgen_cpu_pct": round(100 * sum(r["cpu_s"] for r in reports) / wall, 1),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


PHASES = ("page", "static", "live")


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = sorted(value for report in reports for value in report["latencies"])
    errors: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    for report in reports:
        errors.update(report["errors"])
        requests.update(report["requests"])
    elapsed = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    joined = len(latencies)
    return {
        "joined": joined,
        "errors": sum(errors.values()),
        "joins_per_s": round(joined / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": _pct(latencies, 0.50),
        "p99_ms": _pct(latencies, 0.99),
        "max_ms": _pct(latencies, 1.0),
        "errors_by": dict(errors),
        "requests": dict(requests),
        "phases_ms": phases([(lat, ph) for r in reports for lat, ph in zip(r["latencies"], r["phases"], strict=True)]),
    }


def phases(joined: list[tuple[float, list[float]]]) -> dict[str, dict[str, float]]:
    """Where a browser's time went, for the median browser and the slowest 1 %: the page (its connection and
    request), the static files (the second connection and the files), the live socket (connection, upgrade,
    welcome). Means over each group, in ms."""
    ranked = [ph for _lat, ph in sorted(joined, key=lambda pair: pair[0])]
    if not ranked:
        return {}
    middle = ranked[len(ranked) // 2 - len(ranked) // 200 : len(ranked) // 2 + len(ranked) // 200 + 1]
    slowest = ranked[-max(1, len(ranked) // 100) :]

    def mean(group: list[list[float]]) -> dict[str, float]:
        return {name: round(1000 * sum(ph[i] for ph in group) / len(group), 1) for i, name in enumerate(PHASES)}

    return {"p50": mean(middle), "slowest_1pct": mean(slowest)}


def _pct(values: list[float], p: float) -> float | None:
    return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1) if values else None


METRIC = re.compile(r"^(knowcast_[a-z_]+_total)\{(.*)\} (\S+)$", re.M)  # route labels hold braces


def server_counts(ports: list[int], events_sent: int, patience: float = 10.0) -> dict[str, int]:
    """What the server processes counted themselves (each process's /metrics, summed). The view starts ride the
    sockets after their welcomes, so the last of them may still be on their way when the browsers are done: wait
    (at most ``patience`` seconds) until the servers have counted as many as were sent."""
    deadline = time.monotonic() + patience
    while True:
        counts = _server_counts(ports)
        if counts["events"] >= events_sent or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def _server_counts(ports: list[int]) -> dict[str, int]:
    wanted = {
        "page": ("knowcast_http_requests_total", 'method="GET",route="/rooms/{room_id}",status="200"'),
        "commerce": (
            "knowcast_http_requests_total",
            'method="GET",route="/api/v1/rooms/{room_id}/commerce",status="200"',
        ),
        "events": ("knowcast_analytics_events_total", 'kind="view_start"'),  # on the socket or by POST
        "asset": ("knowcast_static_assets_total", 'status="200"'),
        "welcome": ("knowcast_realtime_welcomes_total", 'kind="snapshot"'),
        "commerce_in_welcome": ("knowcast_realtime_welcome_parts_total", 'part="commerce"'),
    }
    counts = dict.fromkeys(wanted, 0)
    for port in ports:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        for name, labels, value in METRIC.findall(text):
            for key, (metric, want) in wanted.items():
                if name == metric and labels == want:
                    counts[key] += int(float(value))
    counts["welcome"] -= CHATTERS  # the chat history's own sockets
    counts["commerce"] += max(0, counts.pop("commerce_in_welcome") - CHATTERS)  # the snapshot rode the welcome
    return counts


BUCKET = re.compile(r'^knowcast_realtime_join_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)


def server_join_times(ports: list[int]) -> dict[str, float | int | None]:
    """The servers' own timing of the joins (``knowcast_realtime_join_seconds``: upgrade request read → welcome
    written, without the time a connection waited to be accepted and read): how many, and the histogram's
    bucket bounds that hold the median and the 99th percentile (upper bounds, in ms). The chat history's
    sockets are among them, a dozen fast joins."""
    cumulative: dict[float, float] = {}
    for port in ports:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        for bound, value in BUCKET.findall(text):
            cumulative[float(bound)] = cumulative.get(float(bound), 0.0) + float(value)
    count = cumulative.get(math.inf, 0.0)

    def bound_of(q: float) -> float | None:
        bound = next((b for b in sorted(cumulative) if count and cumulative[b] >= q * count), None)
        return None if bound is None or bound == math.inf else round(bound * 1000, 1)

    return {"count": int(count) - CHATTERS, "p50_ms_le": bound_of(0.5), "p99_ms_le": bound_of(0.99)}


def _cpu(pids: list[int]) -> float:
    return sum(_cpu_s(pid) for pid in pids)


def _check_fd_limit(per_process: int) -> None:
    _raise_fd_limit_to_hard()
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if per_process + FD_MARGIN > soft:
        raise SystemExit(f"{per_process:,} live sockets per process need more than the open-file limit {soft:,}")


def _start_loadgen(job_file: Path, index: int, count: int, tmp: Path) -> subprocess.Popen[str]:
    script = Path(__file__).with_name("join_loadgen.py")
    command = [sys.executable, str(script), str(job_file), "--index", str(index), "--workers", str(count)]
    with (tmp / f"loadgen-{index}.log").open("w") as errors:
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            preexec_fn=_child,
        )


def _report(loadgen: subprocess.Popen[str], job_file: Path, index: int) -> dict[str, Any]:
    handshake.expect(loadgen, "written")
    report: dict[str, Any] = json.loads(Path(f"{job_file}.{index}.out").read_text())
    return report


def _spawn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "knowcast", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_child,
        )


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
