"""The live board is a function of the set of events, not their order (issue #17 §3), and UV needs 1 s watched.

Events reach a board out of order: several processes store them, a restarted process replays the store, a page
retries. Here one stream of events is applied in time order and in shuffled orders: every figure must agree.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.analytics import facts_read
from knowcast.analytics.live import RoomBoard
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.store import Batch
from knowcast.context import AppContext

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CHANNELS = ("douyin", "wechat", "", "weibo")


def stream(seed: int, visitors: int = 60) -> list[Record]:
    """Viewers who come and go (some never heartbeat, some return), browse, chat, like, buy; a flash sale."""
    rng = random.Random(seed)
    out: list[Record] = []
    for v in range(visitors):
        visitor, key = f"p:{v}", f"k{v}" if v % 3 == 0 else None
        for n in range(rng.choice((1, 1, 2))):
            view, at = f"view-{v}-{n}", T0 + timedelta(seconds=rng.uniform(0, 1800))
            channel = rng.choice(CHANNELS)
            out.append(Record("view_start", 1, at, visitor=visitor, view_id=view, channel=channel, user_key=key))
            for _ in range(rng.choice((0, 0, 1, 3, 8))):
                at += timedelta(seconds=15)
                out.append(Record("heartbeat", 1, at, visitor=visitor, view_id=view, channel=channel, watched=15))
            if rng.random() < 0.5:
                at += timedelta(seconds=rng.uniform(0, 10))
                out.append(Record("view_end", 1, at, visitor=visitor, view_id=view, watched=rng.uniform(0, 10)))
            if rng.random() < 0.4:
                out.append(Record("impression", 1, at, visitor=visitor, product_id=rng.choice((5, 6))))
            if rng.random() < 0.3:
                out.append(Record("click", 1, at, visitor=visitor, product_id=5))
            if rng.random() < 0.3:
                out.append(Record(rng.choice(("chat", "like", "share")), 1, at, visitor=visitor, quantity=2))
            if rng.random() < 0.15:
                items = [{"product_id": 5, "quantity": 1, "amount": 4900}]
                data: dict[str, Any] = {"items": items}
                common = {"visitor": visitor, "user_key": key, "amount": 4900, "currency": "CNY", "channel": channel}
                out.append(Record("order_created", 1, at, data=data, **common))
                out.append(Record("order_paid", 1, at + timedelta(seconds=20), data=data, **common))
    starts = {"type": "flash", "sale_id": 3, "stock": 20, "starts_at": T0.isoformat(), "ends_at": T0.isoformat()}
    out.append(Record("marker", 1, T0 + timedelta(minutes=3), data=starts))
    out.append(Record("marker", 1, T0 + timedelta(minutes=9), data={"type": "sold_out", "sale_id": 3}))
    out.append(Record("marker", 1, T0 + timedelta(minutes=7), data={"type": "sold_out", "sale_id": 3}))
    return out


def board_of(records: list[Record]) -> RoomBoard:
    board = RoomBoard(1, 9)
    for rec in records:
        board.apply(rec)
    return board


def test_shuffled_events_give_the_same_board() -> None:
    records = sorted(stream(1), key=lambda rec: rec.at)
    now = T0 + timedelta(minutes=31)
    expected = board_of(records)
    want = expected.snapshot(now)
    assert want["uv"] < want["pv"] and want["peak"] > 1 and want["channels"] and want["buyers"]
    for seed in range(5):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        board = board_of(shuffled)
        assert board.snapshot(now) == want, seed
        assert board.flash[3].sold_out_at == T0 + timedelta(minutes=7)
    late_first = list(reversed(records))
    assert board_of(late_first).snapshot(now) == want


def test_a_zero_second_view_is_not_a_viewer_but_is_a_view() -> None:
    board = RoomBoard(1, 9)
    board.apply(Record("view_start", 1, T0, visitor="p:quick", view_id="a"))
    board.apply(Record("view_end", 1, T0 + timedelta(milliseconds=400), visitor="p:quick", view_id="a", watched=0.4))
    board.apply(Record("view_start", 1, T0, visitor="p:stays", view_id="b"))
    board.apply(Record("view_end", 1, T0 + timedelta(seconds=2), visitor="p:stays", view_id="b", watched=1.2))
    snap = board.snapshot(T0 + timedelta(seconds=5))
    assert (snap["uv"], snap["pv"], snap["viewers_now"], snap["peak"]) == (1, 2, 0, 2)
    assert [row["channel"] for row in snap["channels"]] == ["direct"] and snap["channels"][0]["uv"] == 1


async def test_the_stored_report_counts_the_same_viewers(ctx: AppContext) -> None:
    """What the board counts live, the stored facts count after the stream: views under 1 s are not in UV."""
    records = stream(2)
    for rec in records:
        rec.host_id = 9
    batch = Batch()
    batch.rooms[1] = {"host_id": 9, "state": "ended", "started_at": T0, "ended_at": T0 + timedelta(hours=1)}
    batch.records.extend(records)
    await ctx.runtime(AnalyticsRuntime).store.write(batch, {})
    live = board_of(records).snapshot(T0 + timedelta(hours=2))
    async with ctx.db.session() as session:
        stored = await facts_read.totals(session, 1)
        peak, _, _ = await facts_read.concurrency(session, 1)
    assert (stored.uv, stored.pv) == (live["uv"], live["pv"])
    assert peak == live["peak"]
