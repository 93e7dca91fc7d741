"""Run-of-show: steps checked when written, carried out through commerce and interaction during the stream,
exactly once however many taps or consoles race, on their planned time when marked auto, with actual times
recorded and published for analytics and the replay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.commerce.promotions import CouponDrop
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from knowcast.media.timeline import item_for
from tests.growth.conftest import eventually, go, make_room


async def _product(host: Any, room_id: int) -> int:
    body = {"kind": "item", "title": "预算手册", "price": 1990, "stock": 100}
    product = (await host.client.post("/api/v1/products", json=body)).json()
    shelved = await host.client.post(f"/api/v1/rooms/{room_id}/shelf", json={"product_id": product["id"]})
    assert shelved.status_code == 201, shelved.text
    return int(product["id"])


async def _coupon(host: Any) -> int:
    ends = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    body = {"code": "LIVE10", "kind": "fixed", "value": 500, "ends_at": ends}
    response = await host.client.post("/api/v1/coupons", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _step(host: Any, room_id: int, **body: Any) -> dict[str, Any]:
    response = await host.client.post(f"/api/v1/rooms/{room_id}/show/steps", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_steps_are_checked_when_written(make_user: Any) -> None:
    host, other = await make_user(Role.HOST), await make_user(Role.HOST)
    room = await make_room(host)
    url = f"/api/v1/rooms/{room['id']}/show/steps"
    bad = [
        {"kind": "pin", "title": "置顶", "params": {}},
        {"kind": "flash", "title": "秒杀", "params": {"product_id": 1, "stock": 5}},
        {"kind": "poll", "title": "投票", "params": {"question": "选哪个", "options": ["只有一个"]}},
        {"kind": "coupon", "title": "发券", "params": {"coupon_id": "x", "quantity": 10}},
    ]
    for body in bad:
        response = await host.client.post(url, json=body)
        assert response.status_code == 422 and response.json()["error"]["code"] == "show.bad_params", body
    for body in ({"kind": "dance", "title": "x"}, {"kind": "segment", "title": "  "}, {"kind": "segment"}):
        assert (await host.client.post(url, json=body)).status_code == 422
    offset = {"kind": "segment", "title": "x", "planned_offset_seconds": 10**9}
    assert (await host.client.post(url, json=offset)).status_code == 422
    assert (await other.client.post(url, json={"kind": "segment", "title": "x"})).status_code == 403
    step = await _step(host, room["id"], kind="segment", title="开场")
    run = await host.client.post(f"{url}/{step['id']}/run")
    assert run.status_code == 409 and run.json()["error"]["code"] == "show.room_not_live"


async def test_the_script_runs_step_by_step(make_user: Any, ctx: AppContext) -> None:
    done: list[Event] = []

    async def record(event: Event) -> None:
        done.append(event)

    ctx.bus.subscribe("show.step_done", record)
    host = await make_user(Role.HOST)
    room = await make_room(host)
    product_id = await _product(host, room["id"])
    intro = await _step(host, room["id"], kind="segment", title="开场：今天讲什么", talking_points="自我介绍\n福利预告")
    pin = await _step(
        host, room["id"], kind="pin", title="置顶手册", params={"product_id": product_id}, planned_offset_seconds=300
    )
    sale = await _step(
        host,
        room["id"],
        kind="flash",
        title="秒杀",
        params={"product_id": product_id, "price": 990, "stock": 5},
        planned_offset_seconds=600,
    )
    poll = await _step(
        host, room["id"], kind="poll", title="投票", params={"question": "下一课?", "options": ["A", "B"]}
    )
    show = (await host.client.get(f"/api/v1/rooms/{room['id']}/show")).json()
    assert show["current"] is None and show["next"]["id"] == intro["id"]
    assert [s["position"] for s in show["steps"]] == [1, 2, 3, 4]

    await go(host, room["id"], "live")
    for step in (intro, pin, sale, poll):
        response = await host.client.post(f"/api/v1/rooms/{room['id']}/show/steps/{step['id']}/run")
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "done" and response.json()["run_by"] == "host"
    show = (await host.client.get(f"/api/v1/rooms/{room['id']}/show")).json()
    assert show["current"]["id"] == poll["id"] and show["next"] is None
    by_id = {s["id"]: s for s in show["steps"]}
    assert by_id[sale["id"]]["result"]["sale_id"] >= 1
    assert by_id[pin["id"]]["delay_seconds"] is not None and by_id[pin["id"]]["delay_seconds"] < 0  # ran early
    shelf = (await host.client.get(f"/api/v1/rooms/{room['id']}/shelf")).json()
    assert [e["pinned"] for e in shelf] == [True]
    assert [e.data["step_id"] for e in done] == [intro["id"], pin["id"], sale["id"], poll["id"]]
    first = done[0]
    assert first.system and not first.to_room  # talking points stay the host's
    assert "talking_points" not in first.data and first.data["planned_at"] and first.data["started_at"]
    marker = item_for(first)  # what the replay's timeline (media) records for it
    assert marker is not None and marker.kind == "system" and marker.text == "▶ 开场：今天讲什么"


async def test_a_step_runs_once_however_many_taps_and_consoles(
    make_user: Any, ctx: AppContext, client_factory: Any
) -> None:
    host = await make_user(Role.HOST)
    second_console = client_factory()
    second_console.cookies.set(SESSION_COOKIE, host.client.cookies.get(SESSION_COOKIE))
    room = await make_room(host)
    coupon_id = await _coupon(host)
    step = await _step(host, room["id"], kind="coupon", title="发券", params={"coupon_id": coupon_id, "quantity": 20})
    await go(host, room["id"], "live")
    url = f"/api/v1/rooms/{room['id']}/show/steps/{step['id']}/run"
    responses = await asyncio.gather(*(c.post(url) for c in (host.client, second_console) * 4))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 7
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"show.step_already_run"}
    async with ctx.db.session() as session:
        drops = await session.scalar(
            select(func.count()).select_from(CouponDrop).where(CouponDrop.room_id == room["id"])
        )
    assert drops == 1


async def test_auto_steps_run_on_their_planned_time(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    now_step = await _step(host, room["id"], kind="qa", title="答疑时间", auto=True)
    later = await _step(host, room["id"], kind="segment", title="一小时后", auto=True, planned_offset_seconds=3600)
    await go(host, room["id"], "live")

    async def ran() -> dict[str, Any] | None:
        show = (await host.client.get(f"/api/v1/rooms/{room['id']}/show")).json()
        return (
            show
            if show["current"] and show["current"]["id"] == now_step["id"] and show["current"]["state"] == "done"
            else None
        )

    show = await eventually(ran)
    assert show["current"]["run_by"] == "auto"
    assert show["next"]["id"] == later["id"] and show["next"]["state"] == "pending"  # not before its time
    tapped = await host.client.post(f"/api/v1/rooms/{room['id']}/show/steps/{now_step['id']}/run")
    assert tapped.status_code == 409


async def test_a_failed_step_can_be_retried_or_skipped(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    product_id = await _product(host, room["id"])
    sale = {"product_id": product_id, "price": 990, "stock": 1000}  # more than the product's stock
    step = await _step(host, room["id"], kind="flash", title="秒杀", params=sale)
    extra = await _step(host, room["id"], kind="segment", title="收尾")
    await go(host, room["id"], "live")
    base = f"/api/v1/rooms/{room['id']}/show/steps"
    failed = await host.client.post(f"{base}/{step['id']}/run")
    assert failed.status_code == 409 and failed.json()["error"]["code"] == "flash.insufficient_stock"
    show = (await host.client.get(f"/api/v1/rooms/{room['id']}/show")).json()
    assert show["current"]["state"] == "failed" and show["current"]["error_code"] == "flash.insufficient_stock"
    assert (await host.client.post(f"{base}/{step['id']}/retry")).json()["state"] == "pending"
    assert (await host.client.post(f"{base}/{extra['id']}/retry")).json()["error"]["code"] == "show.step_not_failed"
    assert (await host.client.post(f"{base}/{step['id']}/skip")).json()["state"] == "skipped"
    assert (await host.client.post(f"{base}/{step['id']}/skip")).json()["error"]["code"] == "show.step_already_run"
    moved = (await host.client.post(f"{base}/{extra['id']}/move", json={"position": 0})).json()
    assert [s["id"] for s in moved["steps"]] == [extra["id"], step["id"]]
    assert (await host.client.delete(f"{base}/{extra['id']}")).status_code == 204
