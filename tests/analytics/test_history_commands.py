"""`knowcast analytics import-history` and `knowcast analytics forecast`, run as a user would (a real
subprocess, a real database file), and the imported streams in the host's forecast."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from knowcast.analytics import history_import
from knowcast.context import AppContext
from knowcast.errors import ValidationFailed
from tests.analytics.conftest import Stage
from tests.test_cli import run

SHANGHAI = ZoneInfo("Asia/Shanghai")


def write_history(path: Path, weeks: int = 30, seed: int = 3) -> Path:
    """Three streams a week with a trend, slot effects and promotion lifts, as a creator's export would hold."""
    rng = np.random.default_rng(seed)
    lines = ["日期,时间,销售额,观看人数,订单数,促销"]
    start = datetime(2025, 3, 3)
    for week in range(weeks):
        for day, hour, lift in ((1, "20:00", 0.0), (3, "20:00", -0.3), (5, "14:00", 0.4)):
            promo = rng.random() < 0.25
            gmv = math.exp(math.log(20000) + 0.01 * week + lift + 0.4 * promo + rng.normal(0, 0.1))
            date = (start + timedelta(days=7 * week + day)).date()
            lines.append(f"{date},{hour},{gmv:.2f},{int(gmv / 20)},{int(gmv / 100)},{'是' if promo else '否'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_forecast_prints_one_json_line_with_the_backtest(tmp_path: Path) -> None:
    done = run(tmp_path, "analytics", "forecast", "--history", str(write_history(tmp_path / "h.csv")), "--horizon", "6")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert answer["model"] in ("regression", "ets") and len(answer["points"]) == 6
    assert all(lo <= p <= hi for lo, p, hi in zip(answer["low"], answer["points"], answer["high"], strict=True))
    assert answer["backtest"]["mase"] < answer["backtest"]["mase_seasonal_naive"]
    assert "streams read" in done.stderr  # progress goes to stderr, the JSON alone to stdout


def test_bad_files_get_line_numbers_and_a_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,gmv,viewers,orders\n2025-03-01,12.5,10,1\n2025-03-08,lots,10,1\n0001-01-01,1,1,1\n")
    done = run(tmp_path, "analytics", "forecast", "--history", str(bad))
    assert done.returncode == 2 and "line 3" in done.stderr and "line 4" in done.stderr
    assert run(tmp_path, "analytics", "forecast", "--history", str(bad), "--horizon", "0").returncode == 2
    missing = tmp_path / "missing.csv"
    missing.write_text("date,viewers\n2025-03-01,10\n")
    with pytest.raises(ValidationFailed) as caught:
        history_import.parse(missing.read_text(), SHANGHAI)
    assert caught.value.code == "history.missing_column"


def test_dates_without_a_zone_are_the_shops_and_money_is_in_fen() -> None:
    [stream] = history_import.parse(
        "date,time,gmv,viewers,orders,promotion\n2025-03-01,20:00,1234.5,80,9,yes\n", SHANGHAI
    )
    assert stream.started_at == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert (stream.gmv, stream.viewers, stream.orders, stream.promotion) == (123450, 80, 9, True)
    with pytest.raises(ValidationFailed):
        history_import.parse("date,gmv,viewers,orders\n2025-03-01,1.234,1,1\n", SHANGHAI)  # fractions of a fen


def test_import_history_adds_to_the_hosts_history_and_is_idempotent(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert (
        run(
            tmp_path, "createuser", "--email", "host@example.com", "--role", "host", "--password", "long enough"
        ).returncode
        == 0
    )
    history = write_history(tmp_path / "h.csv", weeks=4)
    first = run(tmp_path, "analytics", "import-history", str(history), "--host", "host@example.com")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "12 streams added, 0 updated for host@example.com"
    again = run(tmp_path, "analytics", "import-history", str(history), "--host", "host@example.com")
    assert again.stdout.strip() == "0 streams added, 12 updated for host@example.com"
    nobody = run(tmp_path, "analytics", "import-history", str(history), "--host", "nobody@example.com")
    assert nobody.returncode == 2 and "no account" in nobody.stderr


async def test_imported_streams_feed_the_forecast(stage: Stage, ctx: AppContext, tmp_path: Path) -> None:
    streams = history_import.parse(write_history(tmp_path / "h.csv", weeks=12).read_text(), SHANGHAI)
    async with ctx.db.session() as session:
        assert await history_import.save(session, stage.host.user.id, streams) == (36, 0)
    body = (await stage.host.client.get("/api/v1/analytics/forecast")).json()
    assert body["gmv"]["streams"] == 36 and body["gmv"]["enough"] and body["viewers"]["streams"] == 36
    assert body["gmv"]["low"] <= body["gmv"]["point"] <= body["gmv"]["high"]
