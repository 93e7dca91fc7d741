"""Figures whose source is another domain, through that domain's real API: poll votes (interaction), FAQ
auto-replies in a live chat, reminders booked before the stream (growth) and the run-of-show as run (growth)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from knowcast.accounts.models import Role
from knowcast.analytics import export
from knowcast.context import AppContext
from knowcast.rooms.models import Room
from tests.analytics.conftest import Browser, Stage
from tests.analytics.test_report import buyer_page, watch
from tests.realtime.harness import LiveApp, open_viewer, serve, token_of


@pytest.fixture
async def live(app: Any) -> AsyncIterator[LiveApp]:
    async for server in serve(app):
        yield server


async def report_of(stage: Stage) -> dict[str, Any]:
    await stage.flush()
    response = await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_poll_votes_count_in_the_interaction_rate(stage: Stage, client_factory: Any, make_user: Any) -> None:
    await stage.go_live()
    voter, page = await buyer_page(stage, make_user)
    await watch(stage, page, 15)
    await watch(stage, Browser(client_factory(), stage.room_id, agent="Mozilla/5.0 (X11) lurker"), 15)
    polls = f"/api/v1/rooms/{stage.room_id}/polls"
    poll = (await stage.host.client.post(polls, json={"question": "下节课讲什么", "options": ["基金", "股票"]})).json()
    assert (await stage.live())["interaction_rate"] == 0
    assert (await voter.client.post(f"{polls}/{poll['id']}/vote", json={"option": 0})).status_code == 200
    again = await voter.client.post(f"{polls}/{poll['id']}/vote", json={"option": 1})
    assert again.status_code == 409  # refused: nothing published, nothing counted twice
    live = await stage.live()
    assert live["interaction_rate"] == 0.5 and live["interaction_last5"] == 0.5
    report = await report_of(stage)
    assert report["summary"]["interaction_rate"] == 0.5
    assert sum(minute["interactions"] for minute in report["timeline"]) == 1


async def test_faq_auto_replies_are_counted_per_entry_and_keyword(live: LiveApp, stage: Stage, make_user: Any) -> None:
    faq = "/api/v1/faq"
    buy = await stage.host.client.post(
        faq, json={"keywords": ["怎么买", "如何购买"], "answer": "点下方小黄车", "room_id": stage.room_id}
    )
    replay = await stage.host.client.post(faq, json={"keywords": ["回放"], "answer": "结束后就有"})
    assert buy.status_code == 201 and replay.status_code == 201
    await stage.go_live()
    people = [await make_user(name=f"观众{i}") for i in range(3)]
    sockets = [await open_viewer(live, stage.room_id, token_of(p), join={}) for p in people]
    for socket, text in zip(sockets, ("请问怎么买", "如何购买呀", "有回放吗"), strict=True):
        await socket.send({"type": "chat", "text": text})
    await sockets[0].send({"type": "chat", "text": "怎么买？"})  # the same question again: not answered twice
    for _ in range(200):
        if (await stage.live())["faq_replies"] >= 3:
            break
        await asyncio.sleep(0.02)
    board = await stage.live()
    assert board["faq_replies"] == 3
    by_keyword = {(row["faq_id"], row["keyword"]): row["replies"] for row in board["faq"]}
    assert by_keyword == {
        (buy.json()["id"], "怎么买"): 1,
        (buy.json()["id"], "如何购买"): 1,
        (replay.json()["id"], "回放"): 1,
    }
    assert board["interaction_rate"] is None or board["chat"] == 4  # answers are not the viewers' interactions
    report = await report_of(stage)
    assert report["summary"]["faq_replies"] == 3
    assert report["faq"][0] == {"faq_id": buy.json()["id"], "replies": 2, "keywords": {"怎么买": 1, "如何购买": 1}}
    page = (await stage.host.client.get(f"/studio/rooms/{stage.room_id}/review")).text
    assert 'data-testid="report-faq"' in page and "如何购买 × 1" in page
    text = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report.csv")).text
    assert (
        "faq,faq_id,replies,keywords" in text.splitlines() and "如何购买×1; 怎么买×1" in text
    )  # most answered first, then by keyword
    for socket in sockets:
        await socket.close()


async def test_reminders_booked_before_the_stream_reach_the_report(stage: Stage, make_user: Any) -> None:
    fans = [await make_user() for _ in range(3)]
    path = f"/api/v1/rooms/{stage.room_id}/reminder"
    for fan in fans:
        assert (await fan.client.put(path)).status_code == 200
    assert (await fans[0].client.put(path)).json()["created"] is False  # booking twice is one booking
    assert (await fans[1].client.delete(path)).status_code == 200
    await stage.runtime.settle()
    assert (await stage.live())["reminders"] == 2
    await stage.flush()
    stage.runtime.rooms.clear()  # a restart: the room's next events must not reset what was stored
    await stage.go_live()
    assert (await stage.live())["reminders"] == 2  # read from the store by the "restarted" process
    assert (await fans[2].client.delete(path)).status_code == 200  # cancelled after the start: the plan stands
    await stage.runtime.settle()
    report = await report_of(stage)
    assert report["summary"]["reminders"] == 2
    page = (await stage.host.client.get(f"/studio/rooms/{stage.room_id}/review")).text
    assert 'data-metric="reminders">2<' in page


async def test_the_run_of_show_table_compares_planned_and_actual_times(stage: Stage, ctx: AppContext) -> None:
    steps = f"/api/v1/rooms/{stage.room_id}/show/steps"
    plan = [("开场介绍", 0), ("讲解理财课", 300), ("抽奖", 900), ("答疑", 1500)]
    ids = []
    for title, offset in plan:
        made = await stage.host.client.post(
            steps, json={"kind": "segment", "title": title, "planned_offset_seconds": offset}
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    await stage.go_live()
    async with ctx.db.session() as session:  # the stream started ten minutes ago (tests never wait)
        room = await session.get(Room, stage.room_id)
        assert room is not None and room.started_at is not None
        started = room.started_at - timedelta(minutes=10)
        await session.execute(update(Room).where(Room.id == stage.room_id).values(started_at=started))
        await session.commit()
    for step_id in ids[:2]:
        assert (await stage.host.client.post(f"{steps}/{step_id}/run")).status_code == 200
    assert (await stage.host.client.post(f"{steps}/{ids[2]}/skip")).status_code == 200
    report = await report_of(stage)
    table = report["run_of_show"]
    assert [(row["position"], row["title"], row["state"]) for row in table] == [
        (1, "开场介绍", "done"),
        (2, "讲解理财课", "done"),
        (3, "抽奖", "skipped"),
        (4, "答疑", "pending"),
    ]
    first, second = table[0], table[1]
    assert first["planned_at"] == started.isoformat() and first["actual_at"] is not None
    assert 600 <= first["delta_seconds"] < 660  # ran ten minutes after its planned time: late
    assert 300 <= second["delta_seconds"] < 360
    assert table[2]["actual_at"] is None and table[2]["delta_seconds"] is None
    assert (table[3]["planned_at"], table[3]["delta_seconds"]) == (
        (started + timedelta(seconds=1500)).isoformat(),
        None,
    )

    page = (await stage.host.client.get(f"/studio/rooms/{stage.room_id}/review")).text
    assert 'data-testid="report-show"' in page and 'data-state="skipped"' in page and "+10:" in page
    text = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report.csv")).text
    assert "run_of_show,position,title,kind,state,planned_at,actual_at,delta_seconds" in text.splitlines()
    assert f"run_of_show,3,抽奖,segment,skipped,{table[2]['planned_at']},,\r\n" in text

    seen: list[str] = []

    def label(key: str) -> str:
        seen.append(key)
        return key

    plain = export.card({**report, "run_of_show": [], "products": []}, "理财", label)
    card = export.card(report, "理财", label)
    assert card.height == plain.height + 40 + export.ROW * (len(table) + 1) + 60  # the table's rows fit
    assert {"show.short", "show.planned", "show.actual", "show.delta"} <= set(seen)
    png = await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report.png")
    pdf = await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report.pdf")
    assert png.content.startswith(b"\x89PNG") and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"


def test_the_card_writes_a_step_delta_as_minutes_and_seconds() -> None:
    assert [export._delta({"delta_seconds": s}) for s in (None, 0, 75, -300, 3601)] == [
        "—",
        "+0:00",
        "+1:15",
        "-5:00",
        "+60:01",
    ]


async def test_others_cannot_read_a_rooms_pdf(stage: Stage, make_user: Any) -> None:
    other, viewer = await make_user(Role.HOST), await make_user()
    path = f"/api/v1/analytics/rooms/{stage.room_id}/report.pdf"
    assert (await viewer.client.get(path)).status_code == 403
    assert (await other.client.get(path)).status_code in (403, 404)
