"""Forecasts with their backtest, profiles with RFM and LTV, segments as audiences, the planner, experiments."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.analytics import experiments, forecast, profiles
from knowcast.analytics import forecast_models as fm
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.store import Batch
from knowcast.context import AppContext
from tests.analytics.conftest import Browser, Stage

START = datetime(2026, 6, 6, 12, tzinfo=UTC)  # a Saturday


async def history(
    ctx: AppContext,
    host_id: int,
    sizes: list[tuple[int, int, int]],
    first_room: int = 9000,
    reminders: list[int] | None = None,
) -> None:
    """Past weekly streams of (viewers, buyers, GMV per buyer), written through the store like live ones."""
    batch = Batch()
    for i, (uv, buyers, each) in enumerate(sizes):
        room, at = first_room + i, START + timedelta(days=7 * i)
        batch.rooms[room] = {
            "host_id": host_id,
            "state": "ended",
            "started_at": at,
            "ended_at": at + timedelta(hours=2),
        }
        if reminders:
            batch.reminders[room] = reminders[i]
        for v in range(uv):
            visitor = f"u:{v + 1}" if v < 3 else f"p:{room}-{v}"
            batch.records.append(
                Record(
                    "view_start", room, at, visitor=visitor, view_id=f"v{room}-{v}", host_id=host_id, channel="direct"
                )
            )
            beat = at + timedelta(seconds=15)
            batch.records.append(
                Record("heartbeat", room, beat, visitor=visitor, view_id=f"v{room}-{v}", host_id=host_id, watched=15)
            )
            if v < buyers:
                batch.records.append(
                    Record(
                        "order_paid",
                        room,
                        at + timedelta(minutes=30),
                        visitor=visitor,
                        host_id=host_id,
                        user_id=v + 1,
                        user_key=f"k{v}",
                        order_id=room * 1000 + v,
                        amount=each,
                    )
                )
    await ctx.runtime(AnalyticsRuntime).store.write(batch, {})


async def test_few_streams_say_so(stage: Stage, ctx: AppContext) -> None:
    """Below the minimum history: said so, with the seasonal naive forecast and the history's own range."""
    await history(ctx, stage.host.user.id, [(10, 1, 100), (12, 2, 100)])
    body = (await stage.host.client.get("/api/v1/analytics/forecast")).json()
    gmv = body["gmv"]
    assert (gmv["streams"], gmv["enough"], gmv["note"], gmv["model"]) == (2, False, "thin_history", "seasonal_naive")
    assert (gmv["point"], gmv["low"], gmv["high"]) == (200, 100, 200)  # the last stream; the range of both
    page = (await stage.host.client.get("/studio/analytics/forecasts")).text
    assert 'data-testid="thin-history"' in page


async def test_forecast_backtests_against_seasonal_naive_with_mase(stage: Stage, ctx: AppContext) -> None:
    sizes = [(40 + 3 * i, 4 + (i % 3), 1000) for i in range(12)]
    await history(ctx, stage.host.user.id, sizes)
    body = (await stage.host.client.get("/api/v1/analytics/forecast")).json()
    gmv, viewers = body["gmv"], body["viewers"]
    assert gmv["enough"] and gmv["streams"] == 12 and gmv["model"]
    assert gmv["low"] <= gmv["point"] <= gmv["high"] and gmv["level"] == 0.8
    test = viewers["backtest"]
    assert test["origins"] >= 4 and test["mase"] is not None and test["mase_seasonal_naive"] is not None
    assert test["mase"] <= test["mase_seasonal_naive"]  # the headline never loses to seasonal naive
    assert set(test["models"]) >= {"seasonal_naive", "regression"}


async def test_profiles_rfm_ltv_and_a_segment_as_a_coupon_audience(stage: Stage, ctx: AppContext) -> None:
    await history(ctx, stage.host.user.id, [(6, 3, 5000), (6, 2, 5000), (6, 1, 20000)])
    found = (await stage.host.client.get("/api/v1/analytics/profiles")).json()
    by_visitor = {p["visitor"]: p for p in found["profiles"]}
    top = by_visitor["u:1"]  # bought in all three streams
    assert (top["orders"], top["revenue"], top["streams"], top["consented"], top["user_id"]) == (3, 30000, 3, True, 1)
    assert top["ltv"] > top["revenue"] and top["rfm"] in profiles.RFM_SEGMENTS
    assert found["overview"]["buyers"] == 3
    pseudonymous = [p for p in found["profiles"] if not p["consented"]]
    assert pseudonymous and all(p["user_id"] is None and p["visitor"].endswith("…") for p in pseudonymous)
    made = await stage.host.client.post(
        "/api/v1/analytics/segments", json={"name": "回头客", "rules": {"min_orders": 2}}
    )
    assert made.status_code == 201, made.text
    assert (made.json()["size"], made.json()["reachable"]) == (2, 2)
    audience = (await stage.host.client.get(f"/api/v1/analytics/segments/{made.json()['id']}/audience")).json()
    assert audience["user_ids"] == [1, 2]
    bad = await stage.host.client.post("/api/v1/analytics/segments", json={"name": "x", "rules": {"drop_table": 1}})
    assert bad.status_code == 422


async def test_planner_gives_an_interval_and_says_when_elasticity_is_assumed(stage: Stage, ctx: AppContext) -> None:
    few = (await stage.host.client.post("/api/v1/analytics/plan", json={})).json()
    assert few["enough"] is False
    await history(ctx, stage.host.user.id, [(50, 5, 1000), (60, 6, 1000), (55, 5, 1000)])
    plan = (await stage.host.client.post("/api/v1/analytics/plan", json={"price_change": 0.1})).json()
    assert plan["enough"] and plan["elasticity"]["from_experiments"] is False
    low, high = plan["interval95"]
    assert low <= plan["R"] <= high and plan["V"] == 1100
    bad = await stage.host.client.post("/api/v1/analytics/plan", json={"price_change": -5})
    assert bad.status_code == 422


async def test_experiment_assignment_is_stable_and_conversions_are_counted(
    stage: Stage, client_factory: Any, make_user: Any
) -> None:
    body = {
        "name": "讲解话术",
        "subject": "pitch",
        "room_id": stage.room_id,
        "variants": [{"key": "control"}, {"key": "story"}],
    }
    made = await stage.host.client.post("/api/v1/analytics/experiments", json=body)
    assert made.status_code == 201, made.text
    experiment_id = made.json()["id"]
    await stage.go_live()
    buyer = await make_user(Role.VIEWER)
    buyer.client.cookies.set("kc_consent", "analytics")
    first = (await buyer.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/assignments")).json()
    again = (await buyer.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/assignments")).json()
    assert first["assignments"] == again["assignments"] and len(first["assignments"]) == 1
    page = Browser(buyer.client, stage.room_id)
    await page.send("view_start")
    await stage.watch(page)
    for i in range(6):
        await Browser(client_factory(), stage.room_id).client.get(
            f"/api/v1/analytics/rooms/{stage.room_id}/assignments", headers={"user-agent": f"ua-{i}"}
        )
    common = {"order_id": 77, "user_id": buyer.user.id, "host_id": stage.host.user.id, "total": 4900, "currency": "CNY"}
    await stage.publish("order.paid", **common)
    await stage.flush()
    result = (await stage.host.client.get(f"/api/v1/analytics/experiments/{experiment_id}")).json()
    variants = {v["key"]: v for v in result["variants"]}
    assert sum(v["exposures"] for v in variants.values()) == 7
    chosen = variants[first["assignments"][0]["variant"]]
    assert chosen["conversions"] == 1 and chosen["revenue"] == 4900
    assert result["srm"] is not None and "p" in result["srm"]
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    key = f"{first['assignments'][0]['experiment']}:{first['assignments'][0]['variant']}"
    by_variant = {v["key"]: v for v in report["variants"]}
    assert by_variant[key]["uv"] == 1 and by_variant[key]["gmv"] == 4900 and by_variant[key]["buyers"] == 1
    stopped = await stage.host.client.post(f"/api/v1/analytics/experiments/{experiment_id}/stop")
    assert stopped.json()["state"] == "stopped"
    assert (await stage.host.client.post(f"/api/v1/analytics/experiments/{experiment_id}/stop")).status_code == 409


def test_keyed_hash_assignment_follows_the_weights() -> None:
    row = type("X", (), {"key": "exp1", "variants": [{"key": "a", "weight": 1}, {"key": "b", "weight": 3}]})()
    picks = [experiments.assign("secret", row, f"p:{i}")["key"] for i in range(4000)]  # type: ignore[arg-type]
    share = picks.count("b") / len(picks)
    assert 0.72 < share < 0.78
    assert picks == [experiments.assign("secret", row, f"p:{i}")["key"] for i in range(4000)]  # type: ignore[arg-type]


def weekly(values: list[float]) -> list[tuple[datetime, float]]:
    return [(START + timedelta(days=7 * i), v) for i, v in enumerate(values)]


BOOKED = [10, 40, 5, 80, 20, 60, 15, 100, 30, 70, 10, 90]


def test_reminders_are_a_regressor_of_viewers_when_they_backtest_better() -> None:
    """Viewers that follow the reminders (elasticity 0.8, a little noise): the reminder model finds about 0.8,
    backtests better than plain smoothing, and so is used; more reminders give a bigger forecast."""
    noise = [0.05, -0.04, 0.02, -0.03, 0.04, -0.05, 0.01, 0.03, -0.02, 0.05, -0.01, 0.02]
    viewers = [math.expm1(2 + 0.8 * math.log1p(r) + e) for r, e in zip(BOOKED, noise, strict=True)]
    when = START + timedelta(days=7 * len(BOOKED))
    many = forecast.forecast_series(weekly(viewers), when, BOOKED, 200)
    few = forecast.forecast_series(weekly(viewers), when, BOOKED, 5)
    effect = many["reminders"]
    assert effect["used"] and abs(effect["elasticity"] - 0.8) < 0.1 and effect["history"] == 12
    assert effect["mase_with"] < effect["mase_without"]
    assert many["backtest"]["mase"] == effect["mase_with"]  # the backtest shown is the model's used
    assert many["point"] > 3 * few["point"] and many["low"] <= many["point"] <= many["high"]
    expected = math.expm1(2 + 0.8 * math.log1p(200))
    assert 0.7 * expected < many["point"] < 1.3 * expected


def test_without_a_reminder_history_the_forecast_is_the_plain_one() -> None:
    viewers = weekly([40.0 + 3 * i for i in range(12)])
    when = START + timedelta(days=84)
    plain = forecast.forecast_series(viewers, when)
    booked = forecast.forecast_series(viewers, when, [0] * 12, 150)
    assert booked["reminders"]["elasticity"] == 0 and booked["reminders"]["used"] is False
    assert booked["point"] == plain["point"] and booked["backtest"] == plain["backtest"]
    unrelated = forecast.forecast_series(viewers, when, list(reversed(BOOKED)), 150)
    assert unrelated["reminders"]["used"] is False  # reminders that do not move viewers are not used


async def test_the_next_rooms_reminders_feed_the_viewer_forecast(stage: Stage, ctx: AppContext, make_user: Any) -> None:
    noise = [0.05, -0.04, 0.02, -0.03, 0.04, -0.05, 0.01, 0.03, -0.02, 0.05, -0.01, 0.02]
    sizes = [(round(math.expm1(2 + 0.8 * math.log1p(r) + e)), 1, 1000) for r, e in zip(BOOKED, noise, strict=True)]
    await history(ctx, stage.host.user.id, sizes, reminders=BOOKED)
    fans = [await make_user() for _ in range(3)]
    for fan in fans:
        assert (await fan.client.put(f"/api/v1/rooms/{stage.room_id}/reminder")).status_code == 200
    await stage.runtime.settle()
    await stage.flush()
    body = (await stage.host.client.get("/api/v1/analytics/forecast")).json()
    assert (body["room_id"], body["reminders"], body["title"]) == (stage.room_id, 3, "理财入门")
    effect = body["viewers"]["reminders"]
    assert effect["upcoming"] == 3 and effect["used"] is True and effect["history"] == 12
    asked = (await stage.host.client.get(f"/api/v1/analytics/forecast?room_id={stage.room_id}")).json()
    assert asked["viewers"]["point"] == body["viewers"]["point"]
    page = (await stage.host.client.get("/studio/analytics/forecasts")).text
    assert 'data-metric="reminders">3<' in page and 'data-testid="reminder-effect" data-used="yes"' in page
    other = await make_user(Role.HOST)
    assert (await other.client.get(f"/api/v1/analytics/forecast?room_id={stage.room_id}")).status_code in (403, 404)
    assert (await stage.host.client.get("/api/v1/analytics/forecast?room_id=0")).status_code == 422


async def test_the_running_streams_projection_has_an_interval(stage: Stage, ctx: AppContext, make_user: Any) -> None:
    """Issue 6 §6: the running stream's final GMV = so far + the last 15 minutes' pace over the minutes left."""
    await history(ctx, stage.host.user.id, [(10, 1, 100)] * 3)  # past streams of 2 h: 120 minutes expected
    await stage.go_live()
    buyers = []
    for _ in range(4):
        buyer = await make_user(Role.VIEWER)
        buyer.client.cookies.set("kc_consent", "analytics")
        await Browser(buyer.client, stage.room_id).send("view_start")
        buyers.append(buyer)
    for n, buyer in enumerate(buyers):
        data = {"order_id": 500 + n, "user_id": buyer.user.id, "host_id": stage.host.user.id, "total": 2500}
        await stage.publish("order.paid", **data, currency="CNY")
    body = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/projection")).json()
    assert body["so_far"] == 10000 and body["expected_minutes"] == 120
    assert body["orders_per_minute"] == 4 / max(1.0, min(15, body["elapsed_minutes"]))
    assert body["low"] <= body["projected"] <= body["high"] and body["projected"] > body["so_far"]
    remaining = 120 - body["elapsed_minutes"]
    assert math.isclose(body["projected"], 10000 + body["orders_per_minute"] * remaining * 2500)


async def test_the_planner_takes_price_elasticity_from_price_experiments(stage: Stage, ctx: AppContext) -> None:
    """Issue 6 §7: with a price experiment (+20 % price: 8 % against 10 % conversion), ε = ln(0.8) / ln(1.2)."""
    from knowcast.analytics import models as m

    await history(ctx, stage.host.user.id, [(50, 5, 1000), (60, 6, 1000), (55, 5, 1000)])
    body = {
        "name": "涨价",
        "subject": "price",
        "variants": [{"key": "now"}, {"key": "up", "payload": {"price_change": 0.2}}],
    }
    experiment = (await stage.host.client.post("/api/v1/analytics/experiments", json=body)).json()
    async with ctx.db.session() as session:  # 100 viewers each; 10 and 8 of them bought
        for variant, buyers in (("now", 10), ("up", 8)):
            for i in range(100):
                session.add(
                    m.Exposure(
                        experiment_id=experiment["id"],
                        visitor=f"p:{variant}{i}",
                        host_id=stage.host.user.id,
                        variant=variant,
                        first_at=START,
                        conversions=int(i < buyers),
                        revenue=1000 if i < buyers else 0,
                    )
                )
        await session.commit()
    plan = (await stage.host.client.post("/api/v1/analytics/plan", json={"price_change": 0.2})).json()
    elasticity = plan["elasticity"]
    assert elasticity["from_experiments"] is True
    assert math.isclose(elasticity["value"], math.log(0.8) / math.log(1.2))
    assert math.isclose(elasticity["se"], abs(elasticity["value"]) * 0.5)  # one estimate: half of it, said so
    assert plan["V"] == 1000 * 1.2


def test_the_seasonal_naive_baseline_is_the_same_slot_of_the_week() -> None:
    """Streams on Saturdays (big) and Tuesdays (small): the baseline is the latest stream in the same slot, so it
    follows the weekly pattern; its MASE is over the in-sample one-step naive error (Hyndman & Koehler 2006)."""
    values = [100, 20, 110, 22, 105, 21, 115, 25, 108, 23]
    days = [0, 3, 7, 10, 14, 17, 21, 24, 28, 31]  # START is a Saturday; +3 days a Tuesday
    points = [fm.Point(START + timedelta(days=d), float(v)) for d, v in zip(days, values, strict=True)]
    saturday, tuesday = fm.Point(START + timedelta(days=14), 0), fm.Point(START + timedelta(days=3), 0)
    assert math.expm1(fm.seasonal_naive(points[:4], [saturday])[0]) == pytest.approx(110)  # the last Saturday
    assert math.expm1(fm.seasonal_naive(points[:1], [tuesday])[0]) == pytest.approx(100)  # no Tuesday yet
    tests = fm.backtest(points, 1)
    origins = sorted(tests["seasonal_naive"].one_step)
    errors = [tests["seasonal_naive"].one_step[o] for o in origins]
    assert errors == pytest.approx([abs(values[o] - values[o - 2]) for o in origins])
    scale = sum(abs(b - a) for a, b in itertools.pairwise(values)) / (len(values) - 1)
    assert fm.naive_scale(points) == pytest.approx(scale)
    assert tests["seasonal_naive"].mase(scale) == pytest.approx(sum(errors) / len(errors) / scale)
