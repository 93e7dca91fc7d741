"""Live aggregates: incremental figures, sliding windows, replay after a restart, the advisor's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.analytics import advisor
from knowcast.analytics.live import RoomBoard
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.windows import SlidingDistinct
from knowcast.context import AppContext
from tests.analytics.conftest import Browser, Stage

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_sliding_windows_count_distinct_visitors_per_five_minutes() -> None:
    window = SlidingDistinct()
    base = int(T0.timestamp() // 60)
    for minute, visitor in [(0, "a"), (1, "a"), (2, "b"), (6, "a"), (7, "c"), (7, "c"), (8, "d")]:
        window.add(base + minute, visitor)
    # at minute 8: last five = minutes 4..8 → a, c, d; the five before = minutes -1..3 → a, b
    assert window.counts(base + 8) == (3, 2)
    assert window.counts(base + 20) == (0, 0)


def test_views_expire_after_sixty_seconds_without_a_heartbeat_and_the_peak_stays() -> None:
    board = RoomBoard(1, 9)
    for i in range(3):
        board.apply(Record("view_start", 1, T0, visitor=f"v{i}", view_id=f"view{i}"))
    board.apply(Record("heartbeat", 1, T0 + timedelta(seconds=50), visitor="v0", view_id="view0", watched=15))
    snap = board.snapshot(T0 + timedelta(seconds=70))
    # only v0 watched at least 1 s: the two others are views (PV) but not viewers (UV)
    assert (snap["viewers_now"], snap["peak"], snap["uv"], snap["pv"]) == (1, 3, 1, 3)
    assert snap["avg_watch_seconds"] == 15.0


def test_interaction_rate_counts_viewers_only_and_compares_windows() -> None:
    board = RoomBoard(1, 9)
    for i in range(10):
        board.apply(Record("view_start", 1, T0, visitor=f"v{i}", view_id=f"view{i}"))
    for i in range(6):
        board.apply(Record("chat", 1, T0 + timedelta(minutes=1), visitor=f"v{i}"))
    board.apply(Record("chat", 1, T0 + timedelta(minutes=1), visitor="k:never-watched"))
    for i in range(10):
        board.apply(Record("heartbeat", 1, T0 + timedelta(minutes=6), visitor=f"v{i}", view_id=f"view{i}", watched=15))
    board.apply(Record("like", 1, T0 + timedelta(minutes=6), visitor="v0", quantity=5))
    snap = board.snapshot(T0 + timedelta(minutes=6, seconds=5))
    assert snap["interaction_rate"] == 0.6 and snap["likes"] == 5
    assert snap["interaction_last5"] == 0.1  # 1 of 10 active viewers in minutes 2..6
    assert snap["interaction_prev5"] == 7 / 10  # 7 chatters (one never watched) over 10 active in minutes -3..1
    rules = [s.rule for s in advisor.evaluate(board, snap, T0)]
    assert rules == ["interaction_falling"]


def test_advisor_rules_have_their_numbers() -> None:
    board = RoomBoard(1, 9)
    for i in range(30):
        board.apply(Record("view_start", 1, T0 + timedelta(minutes=6), visitor=f"v{i}", view_id=f"w{i}"))
        board.apply(Record("click", 1, T0 + timedelta(minutes=6), visitor=f"v{i}", product_id=5))
    board.apply(
        Record(
            "marker",
            1,
            T0,
            data={
                "type": "flash",
                "sale_id": 3,
                "stock": 50,
                "starts_at": T0.isoformat(),
                "ends_at": (T0 + timedelta(minutes=10)).isoformat(),
            },
        )
    )
    board.apply(Record("marker", 1, T0 + timedelta(minutes=2), data={"type": "sold_out", "sale_id": 3}))
    snap = board.snapshot(T0 + timedelta(minutes=6, seconds=1))
    found = {s.rule: s.numbers for s in advisor.evaluate(board, snap, T0)}
    assert found["clicked_not_bought"] == {"product_id": 5, "clicks": 30, "paid": 0, "conversion": 0.0}
    assert (
        found["flash_sellout_fast"]["sold_out_seconds"] == 120
        and found["flash_sellout_fast"]["duration_seconds"] == 600
    )
    assert found["viewers_peaking"]["viewers_now"] == 30


async def test_advice_is_raised_once_dismissable_and_gets_an_outcome(stage: Stage, ctx: AppContext) -> None:
    board = await ctx.runtime(AnalyticsRuntime).board(stage.room_id)
    for i in range(25):
        board.apply(Record("view_start", stage.room_id, T0, visitor=f"v{i}", view_id=f"view-{i}"))
        board.apply(Record("click", stage.room_id, T0, visitor=f"v{i}", product_id=8))
    async with ctx.db.session() as session:
        first = await advisor.advise(session, board, board.snapshot(T0), T0)
        again = await advisor.advise(
            session, board, board.snapshot(T0 + timedelta(seconds=2)), T0 + timedelta(seconds=2)
        )
    assert "clicked_not_bought" in [a["rule"] for a in first]
    assert sorted(a["id"] for a in again) == sorted(a["id"] for a in first)  # raised once per cooldown
    first = [a for a in first if a["rule"] == "clicked_not_bought"]
    dismissed = await stage.host.client.post(f"/api/v1/analytics/advice/{first[0]['id']}/dismiss")
    assert dismissed.status_code == 200
    async with ctx.db.session() as session:
        later = T0 + timedelta(minutes=6)
        shown = await advisor.advise(session, board, board.snapshot(later), later)
        assert all(a["id"] != first[0]["id"] for a in shown)
        history = await advisor.history(session, stage.room_id)
    logged = next(h for h in history if h["id"] == first[0]["id"])
    assert logged["dismissed_at"] and logged["outcome"]["dismissed"] is True and "viewers_now" in logged["outcome"]


async def test_a_restarted_process_rebuilds_the_board_from_the_store(stage: Stage, client_factory: Any) -> None:
    await stage.go_live()
    pages = [Browser(client_factory(), stage.room_id, agent=f"agent-{i}") for i in range(3)]
    for page in pages:
        await page.send("view_start", utm_source="weibo")
        await page.send("impression", product_id=3)
    before = await stage.live()
    await stage.flush()
    runtime = stage.runtime
    runtime.boards.clear()  # what a restart loses
    runtime.whole.clear()
    after = await stage.live()
    for key in ("uv", "pv", "viewers_now", "peak", "funnel", "channels"):
        assert after[key] == before[key], key


async def test_a_deleted_account_is_detached_from_analytics(stage: Stage, make_user: Any, ctx: AppContext) -> None:
    from sqlalchemy import func, select

    from knowcast.analytics import models as m
    from knowcast.bus import Event

    viewer = await make_user()
    viewer.client.cookies.set("kc_consent", "analytics")
    await Browser(viewer.client, stage.room_id).send("view_start")
    await stage.flush()
    visitor = f"u:{viewer.user.id}"
    await ctx.bus.publish(Event("user.deleted", {"user_id": viewer.user.id}))
    await stage.flush()
    async with ctx.db.session() as session:
        for model in (m.AnalyticsEvent, m.AnalyticsView, m.RoomVisitor, m.Touch):
            left = await session.scalar(select(func.count()).select_from(model).where(model.visitor == visitor))
            assert left == 0, model
        moved = await session.scalar(
            select(func.count()).select_from(m.RoomVisitor).where(m.RoomVisitor.room_id == stage.room_id)
        )
        assert moved == 1  # still counted, no longer linkable


async def test_a_process_that_restarted_learns_a_rooms_host_from_the_store(stage: Stage, make_user: Any) -> None:
    from sqlalchemy import select

    from knowcast.analytics import models as m

    await stage.flush()
    runtime = stage.runtime
    runtime.rooms.clear()  # what a restart forgets
    fan = await make_user()
    await stage.publish("chat.message", user_id=fan.user.id, message_id="x1", length=2)
    assert runtime.rooms[stage.room_id].host_id == stage.host.user.id
    await stage.publish("chat.message", user_id=fan.user.id, message_id="x2", length=2)
    await stage.flush()
    async with stage.ctx.db.session() as session:
        hosts = set(await session.scalars(select(m.RoomVisitor.host_id).where(m.RoomVisitor.room_id == stage.room_id)))
    assert hosts == {stage.host.user.id}  # a row first written without its host gets it (greatest wins)


async def test_follows_during_the_stream_and_run_of_show_steps_reach_the_dashboard(
    stage: Stage, make_user: Any
) -> None:
    fan = await make_user()
    await stage.publish("host.followed", user_id=fan.user.id, host_id=stage.host.user.id, followers=1)
    await stage.ctx.bus.publish(
        __import__("knowcast.bus", fromlist=["Event"]).Event(
            "host.followed", {"user_id": 1, "host_id": 1, "room_id": None}
        )
    )
    await stage.publish("show.step_done", step_id=1, title="开场介绍", kind="talk")
    live = await stage.live()
    assert live["followers"] == 1  # the follow outside any room is not this stream's
    assert {"type": "step", "label": "开场介绍"}.items() <= live["markers"][-1].items()
