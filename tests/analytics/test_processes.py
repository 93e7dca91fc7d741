"""Several server processes: each has its own live board and intake memory, sharing only the database. Two
runtimes on one database stand in for two worker processes (the test cannot fork the app mid-test)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from knowcast.analytics import models as m
from knowcast.analytics.intake import Intake, Visit
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import BrowserEvent
from tests.analytics.conftest import Stage


def other_process(stage: Stage) -> AnalyticsRuntime:
    other = AnalyticsRuntime(stage.ctx, registry=CollectorRegistry())  # its own process, its own metrics
    other.intake = Intake(other)
    return other


async def test_a_board_tails_the_events_other_processes_stored(stage: Stage, monkeypatch: Any) -> None:
    monkeypatch.setattr(stage.ctx.settings, "redis_url", "redis://127.0.0.1:6379/15")  # scaled mode: boards tail
    await stage.go_live()
    await stage.flush()  # the room is in the shared registry
    other = other_process(stage)
    visit = Visit("p:elsewhere", None, "mobile", "testserver")
    event = BrowserEvent(kind="view_start", room_id=stage.room_id, view_id="view-on-worker-2", utm_source="weibo")
    assert other.intake is not None
    assert (await other.intake.accept(visit, [event])).accepted == 1
    other.intake.tracks["view-on-worker-2"].last_beat -= timedelta(seconds=15)
    beat = BrowserEvent(kind="heartbeat", room_id=stage.room_id, view_id="view-on-worker-2", watched_ms=15000)
    assert (await other.intake.accept(visit, [beat])).accepted == 1
    assert (await stage.live())["uv"] == 0  # not yet stored
    await other.flush()
    live = await stage.live()
    assert (live["uv"], live["pv"], live["channels"][0]["channel"]) == (1, 1, "weibo")
    assert (await stage.live())["pv"] == 1  # applied once


async def test_a_heartbeat_may_reach_another_worker_than_its_start(stage: Stage) -> None:
    await stage.flush()
    other = other_process(stage)
    visit = Visit("p:someone", None, "mobile", "testserver")
    start = BrowserEvent(kind="view_start", room_id=stage.room_id, view_id="view-moving-1")
    assert other.intake is not None
    await other.intake.accept(visit, [start])
    await other.flush()
    async with stage.ctx.db.session() as session:  # the start was 20 s ago (tests never sleep through beats)
        view = await session.get(m.AnalyticsView, "view-moving-1")
        assert view is not None
        view.last_beat_at -= timedelta(seconds=20)
        await session.commit()
    mine = stage.runtime.intake
    assert mine is not None
    beat = BrowserEvent(kind="heartbeat", room_id=stage.room_id, view_id="view-moving-1")
    mine.tracks.clear()
    result = await mine.accept(visit, [beat])
    assert result.accepted == 1, result  # recalled from the stored view, not "sequence.no_view"
    thief = await mine.accept(Visit("p:thief", None, "desktop", "testserver"), [beat])
    assert thief.reasons == {"sequence.foreign_view": 1}
