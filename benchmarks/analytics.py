"""`knowcast bench analytics --events N [--database URL] [--batch B]`.

Loads N analytics events into a fresh, migrated database (a SQLite file in a temporary folder unless
``--database`` names one): one three-hour stream of a host holding almost all of them, and one earlier stream
of that host (1 %) so the report has a previous stream to compare with. The events are what a stream
produces: per visitor a view start, a heartbeat every 15 s while watching, a view end, product impressions,
some clicks, chat lines, likes, and paid orders for about 3 % of visitors, in time order. They are written
through the same code as the running writer (``knowcast.analytics.store.write_records``: the raw events and
every fact they touch), in batches of B, one transaction each.

Meanwhile one live board (knowcast.analytics.live) takes every event, and the dashboard's per-tick update
(a snapshot) is timed after 1 %, 10 % and 100 % of the events: it must not grow with them. Then the stream's
review report (knowcast.analytics.report.review) is built from the database and timed.

Prints one JSON line: events, visitors, load_seconds, events_per_second, apply_us_per_event, tick_ms (median
of 50 snapshots, at each checkpoint), report_seconds (median of 3 builds), report_uv, report_gmv.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from knowcast.analytics import report
from knowcast.analytics.live import RoomBoard
from knowcast.analytics.records import Record
from knowcast.analytics.store import Batch, SqlStore, write_records
from knowcast.db import migrate
from knowcast.db.engine import Database
from knowcast.settings import Settings

HOST, ROOM, EARLIER = 1, 2, 1
START = datetime(2026, 11, 21, 12, tzinfo=UTC)
MINUTES = 180
PRODUCTS = {101: "course", 102: "ebook", 103: "consultation", 104: "membership", 105: "item"}
SECRET = "analytics-benchmark-secret"


def visitor_events(rng: random.Random, room: int, n: int, start: datetime, minutes: int) -> list[Record]:
    """The events of one visitor in one stream, in time order."""
    arrive = start + timedelta(seconds=rng.uniform(0, (minutes - 5) * 60))
    stay = rng.randint(3, 40) * 15
    visitor, view = f"p:{room}-{n:08d}", f"v{room}-{n:08d}"
    channel = rng.choice(("direct", "wechat", "douyin", "search", "social", "weibo"))
    out = [
        Record(
            "view_start", room, arrive, visitor=visitor, view_id=view, channel=channel, host_id=HOST, device="mobile"
        )
    ]
    for beat in range(15, stay, 15):
        out.append(
            Record(
                "heartbeat",
                room,
                arrive + timedelta(seconds=beat),
                visitor=visitor,
                view_id=view,
                channel=channel,
                host_id=HOST,
                watched=15.0,
            )
        )
    for product in rng.sample(sorted(PRODUCTS), 2):
        at = arrive + timedelta(seconds=rng.uniform(0, stay))
        out.append(
            Record(
                "impression", room, at, visitor=visitor, view_id=view, channel=channel, host_id=HOST, product_id=product
            )
        )
        if rng.random() < 0.3:
            out.append(
                Record(
                    "click",
                    room,
                    at + timedelta(seconds=2),
                    visitor=visitor,
                    view_id=view,
                    channel=channel,
                    host_id=HOST,
                    product_id=product,
                )
            )
    for kind in ("chat", "like"):
        if rng.random() < 0.5:
            out.append(
                Record(
                    kind,
                    room,
                    arrive + timedelta(seconds=rng.uniform(0, stay)),
                    visitor=visitor,
                    host_id=HOST,
                    quantity=3,
                )
            )
    if rng.random() < 0.03:
        at = arrive + timedelta(seconds=stay * 0.7)
        order = {
            "host_id": HOST,
            "visitor": visitor,
            "user_id": n + 1,
            "user_key": f"k{n}",
            "order_id": room * 10**8 + n,
        }
        items = [{"product_id": 101, "quantity": 1, "amount": 9900}]
        out.append(Record("order_created", room, at, amount=9900, data={"items": items}, **order))  # type: ignore[arg-type]
        out.append(
            Record(
                "order_paid",
                room,
                at + timedelta(seconds=20),
                amount=9900,
                currency="CNY",
                data={"items": items},
                **order,
            )
        )  # type: ignore[arg-type]
    out.append(
        Record(
            "view_end",
            room,
            arrive + timedelta(seconds=stay),
            visitor=visitor,
            view_id=view,
            channel=channel,
            host_id=HOST,
            watched=5.0,
        )
    )
    return out


def stream(rng: random.Random, room: int, events: int, start: datetime) -> tuple[list[Record], int]:
    out: list[Record] = []
    visitors = 0
    while len(out) < events:
        out.extend(visitor_events(rng, room, visitors, start, MINUTES))
        visitors += 1
    out.sort(key=lambda rec: rec.at)
    return out, visitors


def time_ticks(board: RoomBoard, now: datetime, repeat: int = 50) -> float:
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        board.snapshot(now + timedelta(milliseconds=i))
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def load(
    db: Database, records: list[Record], batch: int, board: RoomBoard | None
) -> tuple[float, float, dict[str, float]]:
    """Write every record; feed the live board; time ticks at 1 %, 10 %, 100 %. Returns (load s, apply s, ticks)."""
    checkpoints = {max(1, len(records) // 100), max(1, len(records) // 10), len(records)}
    ticks: dict[str, float] = {}
    load_time = apply_time = 0.0
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        if board is not None:
            began = time.perf_counter()
            for rec in chunk:
                board.apply(rec)
            apply_time += time.perf_counter() - began
            for mark in sorted(checkpoints):
                if start < mark <= start + len(chunk):
                    ticks[str(mark)] = round(time_ticks(board, chunk[-1].at), 3)
        began = time.perf_counter()
        async with db.session() as session:
            await write_records(session, chunk, PRODUCTS)
            await session.commit()
        load_time += time.perf_counter() - began
    return load_time, apply_time, ticks


async def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = args.database or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    rng = random.Random(20261128)
    try:
        rooms = Batch()
        for room, at in ((EARLIER, START - timedelta(days=7)), (ROOM, START)):
            rooms.rooms[room] = {
                "host_id": HOST,
                "state": "ended",
                "started_at": at,
                "ended_at": at + timedelta(minutes=MINUTES),
            }
        await SqlStore(db, SECRET).write(rooms, {})
        earlier, _ = stream(rng, EARLIER, max(1, args.events // 100), START - timedelta(days=7))
        main, visitors = stream(rng, ROOM, args.events - len(earlier), START)
        await load(db, earlier, args.batch, None)
        board = RoomBoard(ROOM, HOST)
        load_time, apply_time, ticks = await load(db, main, args.batch, board)
        timings, built = [], {}
        for _ in range(3):
            began = time.perf_counter()
            async with db.session() as session:
                built = await report.review(session, ROOM, 24)
            timings.append(time.perf_counter() - began)
    finally:
        await db.dispose()
    total = len(earlier) + len(main)
    return {
        "bench": "analytics",
        "database": url.split(":", 1)[0],
        "events": total,
        "visitors": visitors,
        "batch": args.batch,
        "load_seconds": round(load_time, 2),
        "events_per_second": round(len(main) / load_time) if load_time else None,
        "apply_us_per_event": round(apply_time / len(main) * 1e6, 2),
        "tick_ms": ticks,
        "report_seconds": round(statistics.median(timings), 3),
        "report_uv": built["summary"]["uv"],
        "report_gmv": built["summary"]["gmv"],
    }


def run(args: argparse.Namespace, _settings: Settings) -> int:
    with tempfile.TemporaryDirectory(prefix="kc-analytics-") as tmp:
        result = asyncio.run(bench(args, Path(tmp)))
    print(json.dumps(result))
    return 0
