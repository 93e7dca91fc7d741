"""`knowcast bench analytics` runs as a user would (a real subprocess, a small event count): it prints one JSON
line whose report agrees with the events it generated. Timings are printed, never asserted (issue 6 §10; the
measured figures are in docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run


def test_the_analytics_bench_prints_its_report_and_ticks(tmp_path: Path) -> None:
    done = run(tmp_path, "bench", "analytics", "--events", "20000", "--batch", "5000")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "analytics" and result["database"] == "sqlite+aiosqlite"
    assert result["events"] >= 20000 and result["report_uv"] == result["visitors"]
    assert result["report_gmv"] > 0 and result["report_gmv"] % 9900 == 0  # every bench order pays 99.00
    assert len(result["tick_ms"]) == 3  # the dashboard tick timed after 1 %, 10 % and 100 % of the stream
