"""Forecasts with their backtest, profiles with RFM and LTV, segments as audiences, the planner, experiments."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.accounts.models import Role
from knowcast.analytics import experiments, forecast, profiles
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import runtime_of
from knowcast.analytics.store import Batch
from knowcast.context import AppContext
from tests.analytics.conftest import Browser, Stage

START = datetime(2026, 6, 6, 12, tzinfo=UTC)  # a Saturday


async def history(ctx: AppContext, host_id: int, sizes: list[tuple[int, int, int]], first_room: int = 9000) -> None:
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
        for v in range(uv):
            visitor = f"u:{v + 1}" if v < 3 else f"p:{room}-{v}"
            batch.records.append(
                Record(
                    "view_start", room, at, visitor=visitor, view_id=f"v{room}-{v}", host_id=host_id, channel="direct"
                )
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
    await runtime_of(ctx).store.write(batch, {})


async def test_few_streams_say_so(stage: Stage, ctx: AppContext) -> None:
    await history(ctx, stage.host.user.id, [(10, 1, 100), (12, 2, 100)])
    body = (await stage.host.client.get("/api/v1/analytics/forecast")).json()
    assert body["gmv"] == {"streams": 2, "enough": False, "note": "few_streams"}


async def test_forecast_backtests_against_seasonal_naive_with_mase(stage: Stage, ctx: AppContext) -> None:
    sizes = [(40 + 3 * i, 4 + (i % 3), 1000) for i in range(12)]
    await history(ctx, stage.host.user.id, sizes)
    body = (await stage.host.client.get("/api/v1/analytics/forecast")).json()
    gmv, viewers = body["gmv"], body["viewers"]
    assert gmv["enough"] and gmv["streams"] == 12 and gmv["note"] is None
    assert gmv["low"] <= gmv["point"] <= gmv["high"] and gmv["level"] == 0.8
    test = viewers["backtest"]
    assert test["origins"] == 12 - forecast.MIN_STREAMS
    # weekly streams: the seasonal naive forecast is the one-step naive one, so its MASE is exactly 1
    assert math.isclose(test["mase_baseline"], 1.0, rel_tol=1e-9)
    assert test["mase"] is not None and test["mase"] > 0


def test_mase_is_one_for_the_naive_forecast_itself() -> None:
    series = [(START + timedelta(days=7 * i), float(v)) for i, v in enumerate([5, 9, 4, 8, 10, 3, 7, 6])]
    result = forecast.backtest(series)
    values = [v for _, v in series]
    scale = sum(abs(b - a) for a, b in itertools.pairwise(values)) / (len(values) - 1)
    naive = [abs(values[t] - values[t - 1]) for t in range(forecast.MIN_STREAMS, len(values))]
    assert math.isclose(result["mase_baseline"], sum(naive) / len(naive) / scale)


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
    await Browser(buyer.client, stage.room_id).send("view_start")
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
