"""The ``knowcast`` command: serve, demo, db upgrade, createuser (and, later, bench)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from knowcast.analytics import commands as analytics_commands
from knowcast.errors import ConfigError, KnowcastError
from knowcast.settings import Settings, load_settings

Command = Callable[[argparse.Namespace, Settings], int]


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        sys.exit(2)
    try:
        config = args.config or os.environ.get("KNOWCAST_CONFIG")
        settings = load_settings(Path(config) if config else None)
        sys.exit(args.run(args, settings))
    except ConfigError as exc:
        print(f"knowcast: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except KnowcastError as exc:
        print(f"knowcast: {exc.message} ({exc.code})", file=sys.stderr)
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knowcast", description="Knowcast live-commerce server")
    parser.add_argument("--config", type=str, help="a TOML settings file (or set KNOWCAST_CONFIG)")
    sub = parser.add_subparsers(title="commands")

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1, help="processes; more than one needs KNOWCAST_REDIS_URL")
    serve.set_defaults(run=cmd_serve)

    demo = sub.add_parser("demo", help="migrate, create the owner and a demo room, then serve")
    demo.add_argument("--host", default=None)
    demo.add_argument("--port", type=int, default=None)
    demo.set_defaults(run=cmd_demo)

    db = sub.add_parser("db", help="database commands").add_subparsers(title="db commands")
    db.add_parser("upgrade", help="apply pending migrations (safe to repeat)").set_defaults(run=cmd_db_upgrade)

    user = sub.add_parser("createuser", help="create an account")
    user.add_argument("--email", required=True)
    user.add_argument("--name", default=None, help="display name (default: the part of the email before @)")
    user.add_argument("--role", choices=["owner", "host", "moderator", "viewer"], default="viewer")
    user.add_argument("--password", default=None, help="default: ask, or generate one when not on a terminal")
    user.set_defaults(run=cmd_createuser)

    analytics_commands.add_commands(sub)

    keys = sub.add_parser("keys", help="encryption keys for personal data").add_subparsers(title="keys commands")
    keys.add_parser("init", help="create the key file if there is none").set_defaults(run=cmd_keys_init)
    rotate = keys.add_parser("rotate", help="new primary key; re-encrypt every personal field under it")
    rotate.add_argument("--retire", action="store_true", help="drop the old keys once every row is re-encrypted")
    rotate.set_defaults(run=cmd_keys_rotate)

    pay = sub.add_parser("payments", help="payment commands").add_subparsers(title="payments commands")
    rec = pay.add_parser("reconcile", help="compare a provider's statement of a day with our payments")
    rec.add_argument("--provider", required=True, help="an enabled provider: wechat, alipay or stripe")
    rec.add_argument("--date", required=True, help="the statement day, YYYY-MM-DD (WeChat/Alipay: China time)")
    rec.set_defaults(run=cmd_payments_reconcile)

    # each benchmark adds its parser to this group and runs from benchmarks/<name>.py in a source checkout
    bench = sub.add_parser("bench", help="benchmarks (each prints one JSON line)").add_subparsers(title="benchmarks")
    fanout = bench.add_parser("fanout", help="N viewers in one room over real WebSockets, R chat messages/s")
    fanout.add_argument("--viewers", type=int, default=1000)
    fanout.add_argument("--rate", type=float, default=20.0, help="chat messages per second into the room")
    fanout.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    fanout.add_argument("--loadgen-processes", type=int, default=0, help="default: about 2,500 viewers each")
    fanout.add_argument("--redis", action="store_true", help="serve with the Redis fan-out backend")
    fanout.add_argument("--workers", type=int, default=1, help="server processes sharing the room (needs --redis)")
    fanout.add_argument("--nice", type=int, default=0, help="scheduling priority of server and load (root: below 0)")
    fanout.set_defaults(run=run_benchmark("fanout"))
    flash = bench.add_parser("flash-sale", help="N buyers at one flash sale of S units (benchmarks/flash_sale.py)")
    flash.add_argument("--buyers", type=int, default=10_000)
    flash.add_argument("--stock", type=int, default=500)
    flash.add_argument("--processes", type=int, default=1, help="server processes; more than one needs --redis")
    flash.add_argument("--redis", default=None, help="Redis URL: the flash gate runs in Redis (scaled mode)")
    flash.add_argument("--database", default=None, help="database URL (default: a fresh SQLite file)")
    flash.add_argument("--connections", type=int, default=256, help="concurrent keep-alive connections")
    flash.add_argument("--cold", action="store_true", help="skip the buyers' room_page visit before the sale")
    flash.add_argument(
        "--session-cache", type=int, default=None, help="the server's FLASH_SESSION_CACHE_SECONDS (0: read every time)"
    )
    flash.add_argument("--loadgen-processes", type=int, default=2, help="load generator processes")
    flash.add_argument("--keep", default=None, help="SQLite: keep the prepared buyers in this folder for later runs")
    flash.set_defaults(run=run_benchmark("flash_sale"))
    join = bench.add_parser("join", help="N browsers open one live room within S seconds (benchmarks/join.py)")
    join.add_argument("--viewers", type=int, default=10_000)
    join.add_argument("--seconds", type=float, default=10.0, help="the browsers arrive evenly over this time")
    join.add_argument("--signed-in-share", type=float, default=0.5, help="share of the viewers signed in (0-1)")
    join.add_argument("--workers", type=int, default=1, help="server processes; above 1: behind nginx, with Redis")
    join.add_argument("--redis", default=None, help="Redis URL for --workers above 1 (default: KNOWCAST_REDIS_URL)")
    join.add_argument("--database", default=None, help="database URL (default: a fresh SQLite file)")
    join.add_argument("--loadgen-processes", type=int, default=0, help="default: one per 5,000 browsers")
    join.add_argument("--nice", type=int, default=0, help="scheduling priority of server and load (root: below 0)")
    join.set_defaults(run=run_benchmark("join"))
    analytics = bench.add_parser("analytics", help="N events: review report and live tick (benchmarks/analytics.py)")
    analytics.add_argument("--events", type=int, default=1_000_000)
    analytics.add_argument("--batch", type=int, default=20_000, help="events per write transaction")
    analytics.add_argument("--database", default=None, help="database URL (default: a fresh SQLite file)")
    analytics.set_defaults(run=run_benchmark("analytics"))
    latency = bench.add_parser("latency", help="glass-to-glass video latency, CPU per stream (benchmarks/latency.py)")
    latency.add_argument("--samples", type=int, default=150, help="video frames read in the browser")
    latency.add_argument("--cpu-seconds", type=float, default=15.0, help="CPU measuring window per mode")
    latency.add_argument("--chromium", default="/usr/bin/chromium")
    latency.add_argument(
        "--mode",
        choices=("hls", "whep", "whip", "guest"),
        default="hls",
        help="hls: RTMP → HLS in Chromium; whep: WHIP in, WHEP out; whip: WHIP in, HLS in Chromium; "
        "guest: host ↔ guest on the stage (连麦) and the composition's CPU",
    )
    latency.add_argument(
        "--janus",
        action="store_true",
        help="with --mode whep: viewers watch through a Janus the benchmark starts (scaled mode), not WHEP",
    )
    latency.add_argument("--janus-viewers", type=int, default=16, help="with --janus: the most viewers measured")
    latency.set_defaults(run=run_benchmark("latency"))
    return parser


def cmd_keys_init(_args: argparse.Namespace, settings: Settings) -> int:
    from knowcast.privacy import keyring

    path = settings.data_dir / "keys" / "keyring.json"
    existed = path.exists()
    ring = keyring.load(settings.data_dir, settings.encryption_keys, settings.lookup_key, create=True)
    print(f"key ring {'exists' if existed else 'created'} at {path} (primary key {ring.primary})")
    return 0


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from knowcast.db.engine import make_engine
    from knowcast.privacy import crypto, keyring, rotation

    ring = keyring.load(settings.data_dir, settings.encryption_keys, settings.lookup_key, create=False)
    crypto.install(ring)

    def progress(table: str, done: int, total: int) -> None:
        print(f"\r  {table}: {done}/{total} rows re-encrypted", end="\n" if done == total else "", flush=True)

    async def run() -> keyring.KeyRing:
        engine = make_engine(settings.database_url)
        try:
            return await rotation.rotate(engine, ring, args.retire, progress)
        finally:
            await engine.dispose()

    new = asyncio.run(run())
    print(f"primary key is now {new.primary}; keys kept: {', '.join(sorted(new.keys))}")
    return 0


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from knowcast.db import migrate

    todo = asyncio.run(migrate.pending(settings.database_url))
    migrate.upgrade(settings.database_url)
    print(f"database is up to date ({len(todo)} migration(s) applied)")
    return 0


def cmd_createuser(args: argparse.Namespace, settings: Settings) -> int:
    from knowcast.accounts.models import Role
    from knowcast.devtools import create_account

    password = args.password
    generated = False
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("password: ")
    if not password:
        password, generated = secrets.token_urlsafe(12), True
    name = args.name or args.email.split("@", 1)[0]
    asyncio.run(create_account(settings, args.email, name, password, Role(args.role)))
    print(f"created {args.role} {args.email}" + (f" with password {password}" if generated else ""))
    return 0


def cmd_payments_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    """Print the report as one JSON object; exit 1 when there are mismatches (for cron and scripts)."""
    import datetime
    import json

    from knowcast.app import build_context
    from knowcast.commerce import reconcile
    from knowcast.commerce import runtime as commerce_runtime
    from knowcast.integrations.dispatcher import WebhookDispatcher

    try:
        day = datetime.date.fromisoformat(args.date)
    except ValueError:
        raise ConfigError(f"--date must be YYYY-MM-DD, not {args.date!r}") from None

    async def run() -> reconcile.Report:
        ctx = build_context(settings)
        rt = commerce_runtime.install(ctx)
        WebhookDispatcher(ctx).install()  # payment.mismatch webhooks are queued; the server delivers them
        try:
            return await reconcile.run(ctx, args.provider, day)
        finally:
            for provider in rt.providers.values():
                await provider.close()
            await rt.http.aclose()
            await ctx.db.dispose()

    report = asyncio.run(run())
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    return 1 if report.mismatches else 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from knowcast.web.front import server_options

    host, port = args.host or settings.host, args.port or settings.port
    settings.check_payments_for_production()  # before any worker starts
    if args.workers > 1:
        if not settings.redis_url:
            raise ConfigError("--workers above 1 needs KNOWCAST_REDIS_URL, so the processes share rooms")
        if settings.should_auto_migrate:  # once, here: workers migrating a fresh database together collide
            from knowcast.db import migrate

            migrate.upgrade(settings.database_url)
        uvicorn.run(
            "knowcast.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            log_config=None,
            access_log=False,
            **server_options(),  # instant answers in the parser's callback (web/front.py), the live socket's options
        )
        return 0
    from knowcast.app import create_app
    from knowcast.observability import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    settings = settings.serving_at(host, port)
    if settings.ingest == "auto":  # one process: the embedded RTMP gate can own the port
        settings = settings.model_copy(update={"ingest": "embedded"})
    uvicorn.run(
        create_app(settings, serving=True),  # flash attempts answered ahead of FastAPI (app.KnowcastApp)
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        **server_options(),  # as above; proxy headers off: the app believes them only from KNOWCAST_TRUSTED_PROXIES
    )
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from knowcast.app import build_context
    from knowcast.db import migrate
    from knowcast.demo import Demo, prepare_demo
    from knowcast.media.demo import with_demo_stream

    async def prepare() -> Demo:
        ctx = build_context(settings)
        try:
            return await prepare_demo(ctx)
        finally:
            await ctx.db.dispose()

    migrate.upgrade(settings.database_url)
    demo = asyncio.run(prepare())
    host, port = args.host or settings.host, args.port or settings.port
    settings = with_demo_stream(settings.serving_at(host, port), demo.room_id).model_copy(update={"demo_audience": 24})
    print(
        "\n  Knowcast demo\n"
        f"  open      http://{host}:{port}/rooms/{demo.room_id}   (live in a few seconds)\n"
        f"  studio    http://{host}:{port}/studio\n"
        f"  sign in   {demo.email}\n"
        f"  password  {demo.password}\n"
        f"  (kept in {demo.credentials_file})\n"
    )
    args.workers = 1
    return cmd_serve(args, settings)


def run_benchmark(name: str) -> Command:
    """``benchmarks/<name>.py``'s ``run(args, settings)``; benchmarks live beside src/ in a source checkout."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        import importlib

        root = Path(__file__).resolve().parents[2]
        if not (root / "benchmarks" / f"{name}.py").exists():
            raise ConfigError(f"benchmarks/{name}.py not found: run benchmarks from a source checkout")
        sys.path.insert(0, str(root))
        module = importlib.import_module(f"benchmarks.{name}")
        result: int = module.run(args, settings)
        return result

    return run
