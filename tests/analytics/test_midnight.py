"""Cookieless visitor ids and midnight (issue #17 §3): the salt's day is the shop's day (Asia/Shanghai by default,
not UTC, which turns at 08:00 in Beijing), and a view that spans the turn keeps its visitor and its watch time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from knowcast.analytics import models as m
from knowcast.privacy import visitors
from tests.analytics.conftest import Browser, Stage

BEFORE = datetime(2026, 12, 6, 15, 59, 50, tzinfo=UTC)  # 23:59:50 on the 6th in Shanghai
AFTER = datetime(2026, 12, 6, 16, 0, 5, tzinfo=UTC)  # 00:00:05 on the 7th: a new salt


def test_the_salt_day_is_the_shops_day(monkeypatch: Any) -> None:
    monkeypatch.setattr(visitors, "utcnow", lambda: AFTER)
    assert str(visitors.local_day(ZoneInfo("Asia/Shanghai"))) == "2026-12-07"
    assert str(visitors.local_day(ZoneInfo("UTC"))) == "2026-12-06"


async def test_a_view_across_midnight_in_shanghai_is_one_visitor_with_unbroken_watch_time(
    stage: Stage, client_factory: Any, monkeypatch: Any
) -> None:
    clock = {"now": BEFORE}
    monkeypatch.setattr(visitors, "utcnow", lambda: clock["now"])
    await stage.go_live()
    page = Browser(client_factory(), stage.room_id)
    assert (await page.send("view_start"))["accepted"] == 1
    await stage.watch(page, 5)
    clock["now"] = AFTER
    await stage.watch(page, 15)  # was refused as sequence.foreign_view: the new salt made a new visitor
    live = await stage.live()
    assert (live["uv"], live["pv"], live["avg_watch_seconds"], live["rejected_events"]) == (1, 1, 20.0, 0)
    later = Browser(page.client, stage.room_id)  # a new view after midnight: today's id, unlinkable to yesterday's
    await later.send("view_start")
    await stage.watch(later, 15)
    await stage.flush()
    async with stage.ctx.db.session() as session:
        view = await session.get(m.AnalyticsView, page.view_id)
        second = await session.get(m.AnalyticsView, later.view_id)
        rows = await session.scalar(select(func.count()).where(m.RoomVisitor.room_id == stage.room_id))
    assert view is not None and second is not None
    assert view.watched_seconds == 20 and view.visitor.startswith("p:") and second.visitor != view.visitor
    assert rows == 2


async def test_ids_need_no_session_once_the_days_salts_are_in_memory_and_do_again_after_midnight(
    ctx: Any, monkeypatch: Any
) -> None:
    """The live socket's intake works a visitor out without opening a session when the salts are known
    (``ready``); the new day's salt is not, so after midnight ids need the database again once."""
    clock = {"now": BEFORE}
    monkeypatch.setattr(visitors, "utcnow", lambda: clock["now"])
    ids = visitors.VisitorIds("Asia/Shanghai")
    assert not ids.ready()
    async with ctx.db.session() as session:
        first = await ids.pseudonymous(session, "10.0.0.1", "phone")
        assert await ids.previous(session, "10.0.0.1", "phone") is None  # yesterday had no salt: known as such
    assert ids.ready()
    assert await ids.pseudonymous(None, "10.0.0.1", "phone") == first
    clock["now"] = AFTER
    assert not ids.ready()
    with pytest.raises(RuntimeError):  # a new day's salt cannot come from memory
        await ids.pseudonymous(None, "10.0.0.1", "phone")
    async with ctx.db.session() as session:
        assert await ids.previous(session, "10.0.0.1", "phone") == first  # yesterday's id, for a view spanning midnight
        assert await ids.pseudonymous(session, "10.0.0.1", "phone") != first
    assert ids.ready()
