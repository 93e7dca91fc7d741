"""A whole stream through the pipeline: browser events and bus events in, the review report out, every figure
checked by hand against docs/metrics.md."""

from __future__ import annotations

import math
from typing import Any

from knowcast.accounts.models import Role
from knowcast.privacy.consent import COOKIE, GRANTED
from tests.analytics.conftest import Browser, Stage, new_room

PRODUCT = {"id": 501, "host_id": 0, "kind": "course", "title": "理财课", "price": 9900}


async def buyer_page(stage: Stage, make_user: Any) -> tuple[Any, Browser]:
    buyer = await make_user(Role.VIEWER)
    buyer.client.cookies.set(COOKIE, GRANTED)  # consented: counted by account id
    return buyer, Browser(buyer.client, stage.room_id)


async def watch(stage: Stage, page: Browser, seconds: float, **start: Any) -> None:
    await page.send("view_start", **start)
    stage.backdate(page, seconds)
    await page.send("heartbeat", watched_ms=int(seconds * 1000))


async def pay(stage: Stage, user_id: int, order_id: int, total: int) -> None:
    items = [{"product_id": PRODUCT["id"], "quantity": 1, "unit_price": total}]
    common = {
        "order_id": order_id,
        "user_id": user_id,
        "host_id": stage.host.user.id,
        "total": total,
        "currency": "CNY",
    }
    await stage.publish("order.created", **common, items=items)
    await stage.publish("order.paid", **common, items=items)


async def run_stream(stage: Stage, client_factory: Any, make_user: Any, viewers: int, buyers: int) -> list[Any]:
    await stage.go_live()
    await stage.publish("shelf.updated", items=[{"product": PRODUCT, "pinned": False}])
    await stage.publish("shelf.pinned", product=PRODUCT)
    people = []
    for i in range(viewers - buyers):
        page = Browser(client_factory(), stage.room_id, agent=f"Mozilla/5.0 (X11) viewer-{i}")
        await watch(stage, page, 15, utm_source="douyin" if i % 2 else None)
        await page.send("impression", product_id=PRODUCT["id"])
    for n in range(buyers):
        buyer, page = await buyer_page(stage, make_user)
        await watch(stage, page, 15, referrer="https://www.baidu.com/s?wd=knowcast")
        await page.send("impression", product_id=PRODUCT["id"])
        await page.send("click", product_id=PRODUCT["id"])
        await stage.publish("chat.message", user_id=buyer.user.id, message_id=f"m{n}", length=3)
        await pay(stage, buyer.user.id, 1000 * stage.room_id + n, 9900)
        people.append(buyer)
    await stage.flush()
    return people


async def test_the_report_follows_the_metric_definitions(stage: Stage, client_factory: Any, make_user: Any) -> None:
    await run_stream(stage, client_factory, make_user, viewers=4, buyers=1)
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    s = report["summary"]
    assert (s["uv"], s["pv"], s["buyers"], s["gmv"], s["orders_paid"]) == (4, 4, 1, 9900, 1)
    assert s["A"] == 4 and s["P"] == 0.25 and s["V"] == 9900
    assert s["gpm"] == 9900 * 1000 / 4 and s["uv_value"] == 9900 / 4
    assert s["interaction_rate"] == 0.25  # the buyer chatted
    assert 0 < s["avg_watch_seconds"] <= 17
    assert [step["viewers"] for step in report["funnel"]] == [4, 4, 1, 1, 1]
    assert report["funnel"][2]["of_previous"] == 0.25
    product = report["products"][0]
    assert (product["title"], product["impressions"], product["clicks"], product["gmv"]) == ("理财课", 4, 1, 9900)
    channels = {c["channel"]: c for c in report["channels"]}
    assert channels["search"]["gmv"] == 9900 and channels["search"]["buyers"] == 1
    assert channels["douyin"]["uv"] == 1 and channels["direct"]["uv"] == 2
    assert [m["type"] for m in report["markers"]][:2] == ["live", "pin"]
    assert report["attribution"] == {"model": "last", "window_hours": 24}
    assert report["summary"]["peak"] == 4


async def test_apv_change_against_the_previous_stream_decomposes_exactly(
    stage: Stage, client_factory: Any, make_user: Any
) -> None:
    await run_stream(stage, client_factory, make_user, viewers=4, buyers=1)
    await stage.transition("ended")
    second = Stage(stage.host, await new_room(stage.host), stage.ctx)
    await run_stream(second, client_factory, make_user, viewers=5, buyers=2)
    report = (await second.host.client.get(f"/api/v1/analytics/rooms/{second.room_id}/report")).json()
    previous = report["previous"]
    assert previous["room_id"] == stage.room_id and previous["R"] == 9900
    change = previous["change"]
    assert math.isclose(change["log_change"], math.log(2 * 9900 / 9900))
    assert math.isclose(sum(change["terms"].values()), change["log_change"])
    assert math.isclose(change["terms"]["A"], math.log(5 / 4))
    assert math.isclose(change["terms"]["P"], math.log((2 / 5) / (1 / 4)))
    assert math.isclose(change["terms"]["V"], 0.0, abs_tol=1e-12)
    assert math.isclose(sum(change["shares"].values()), 1.0)


async def test_csv_and_share_image(stage: Stage, client_factory: Any, make_user: Any) -> None:
    await run_stream(stage, client_factory, make_user, viewers=2, buyers=1)
    csv = await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.text
    assert "summary,gmv,9900" in text and "\nfunnel,step," in text and "\nproducts,product_id," in text
    png = await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")


async def test_only_the_rooms_host_sees_its_analytics(stage: Stage, make_user: Any, client: Any) -> None:
    other = await make_user(Role.HOST)
    viewer = await make_user(Role.VIEWER)
    path = f"/api/v1/analytics/rooms/{stage.room_id}/report"
    assert (await client.get(path)).status_code == 401
    assert (await viewer.client.get(path)).status_code == 403
    assert (await other.client.get(path)).status_code in (403, 404)
    assert (await other.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/live")).status_code in (403, 404)


async def test_peak_and_viewers_per_minute_come_from_view_sessions(ctx: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from knowcast.analytics import facts_read
    from knowcast.analytics.records import Record
    from knowcast.analytics.store import write_records

    t0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    records = [
        Record("view_start", 42, t0, visitor="a", view_id="view-a"),
        Record("view_start", 42, t0 + timedelta(seconds=10), visitor="b", view_id="view-b"),
        Record("view_end", 42, t0 + timedelta(seconds=30), visitor="a", view_id="view-a"),  # b times out at 1:10
        Record("view_start", 42, t0 + timedelta(minutes=3), visitor="c", view_id="view-c"),
        Record("view_end", 42, t0 + timedelta(minutes=3, seconds=5), visitor="c", view_id="view-c"),
    ]
    async with ctx.db.session() as session:
        await write_records(session, records, {})
        await session.commit()
        peak, peak_at, per_minute = await facts_read.concurrency(session, 42)
    base = int(t0.timestamp() // 60)
    assert (peak, peak_at) == (2, t0 + timedelta(seconds=10))
    assert per_minute == {base: 2, base + 1: 1, base + 2: 0, base + 3: 1}


async def test_the_timeline_marks_pins_flash_sales_coupon_drops_draws_polls_and_steps(stage: Stage) -> None:
    await stage.go_live()
    sale = {"id": 4, "product_id": PRODUCT["id"], "product_title": "理财课", "stock_total": 10}
    await stage.publish("shelf.pinned", product=PRODUCT)
    await stage.publish("flash.scheduled", sale=sale)
    await stage.publish("flash.sold_out", sale_id=4)
    await stage.publish("coupon.drop_started", drop={"id": 2, "coupon": {"id": 9, "code": "LIVE10"}})
    await stage.publish("draw.opened", draw={"id": 1, "title": "抽一本书"})
    await stage.publish("draw.drawn", draw={"id": 1, "title": "抽一本书"})
    await stage.publish("poll.opened", poll={"id": 1, "question": "下节课讲什么"})
    await stage.publish("show.step_done", step_id=1, title="开场", delay_seconds=42)
    await stage.transition("ended")
    await stage.flush()
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    marks = [(m["type"], m.get("label")) for m in report["markers"]]
    assert marks == [
        ("live", None),
        ("pin", "理财课"),
        ("flash", "理财课"),
        ("sold_out", None),
        ("coupon", "LIVE10"),
        ("draw", "抽一本书"),
        ("draw_drawn", "抽一本书"),
        ("poll", "下节课讲什么"),
        ("step", "开场"),
        ("ended", None),
    ]
    times = [m["t"] for m in report["markers"]]
    assert times == sorted(times) and report["markers"][-1]["t"] - times[0] < 3600  # chart x: seconds since 1970
    page = (await stage.host.client.get(f"/studio/rooms/{stage.room_id}/review")).text
    for kind in ("pin", "flash", "coupon", "draw", "poll", "step"):
        assert f'<li data-type="{kind}">' in page, kind


async def test_visitors_without_a_channel_are_counted_in_the_one_direct_row(
    stage: Stage, client_factory: Any, make_user: Any
) -> None:
    """A direct view (no campaign, no referrer) and a signed-in viewer known only by a chat line (their page's view
    never reached the intake): both are direct, in one row of the report, not two named alike."""
    await stage.go_live()
    await watch(stage, Browser(client_factory(), stage.room_id), 15)
    chatter, _ = await buyer_page(stage, make_user)
    await stage.publish("chat.message", user_id=chatter.user.id, message_id="m1", length=3)
    await stage.flush()
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    assert [row["channel"] for row in report["channels"]] == ["direct"], report["channels"]
    assert (report["channels"][0]["uv"], report["channels"][0]["pv"]) == (1, 1)
