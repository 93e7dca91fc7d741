"""`knowcast bench join` runs as a user would (a real subprocess: servers, load generator processes, a small
crowd; with --workers 2 a real nginx from docs/operations.md and Redis), and its JSON line agrees with what the
servers counted themselves in /metrics: every browser's page, static files, commerce snapshot, view event and
welcome. Throughput and latency are printed, never asserted (measured figures: docs/benchmarks.md "Join storm")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from benchmarks import nginx

from knowcast.web.templating import STATIC_DIR
from tests.live_server import free_port
from tests.services import require_redis, unavailable

FIELDS = {
    "viewers",
    "seconds",
    "joined",
    "errors",
    "joins_per_s",
    "p50_ms",
    "p99_ms",
    "server_cpu_pct",
    "server_rss_mb",
}


def _bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWCAST_")}
    env.update(KNOWCAST_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", KNOWCAST_DATA_DIR=str(tmp_path))
    command = [sys.executable, "-m", "knowcast", "bench", "join", *args]
    # servers, nginx and load generators start on a shared machine: minutes, not the CLI tests' two
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.keys() >= FIELDS
    print(json.dumps(result))
    return result


def _agrees_with_the_server(result: dict[str, Any], viewers: int) -> None:
    assert result["viewers"] == viewers and result["errors"] == 0 and result["errors_by"] == {}
    assert result["joined"] == viewers
    server, client = result["server"], result["requests"]
    for kind in ("page", "commerce", "events", "welcome"):
        assert server[kind] == client[kind] == viewers, kind
    assert client["asset"] > 0 and server["asset"] == client["asset"]
    assert client["asset"] % viewers == 0  # every browser fetched each linked file once
    assert 0 < result["p50_ms"] <= result["p99_ms"] and result["joins_per_s"] > 0
    assert result["server_cpu_pct"] > 0 and result["server_rss_mb"] > 0
    timed = result["server_join_ms"]  # the servers' own timing of the same joins
    assert timed["count"] == viewers and 0 < timed["p50_ms_le"] <= timed["p99_ms_le"]
    for group in ("p50", "slowest_1pct"):  # where the time went: page, static files, live socket
        steps = result["phases_ms"][group]
        assert set(steps) == {"page", "static", "live"} and all(ms >= 0 for ms in steps.values())


def test_one_process_counts_agree_with_the_server(tmp_path: Path) -> None:
    result = _bench(tmp_path, "--viewers", "60", "--seconds", "2", "--signed-in-share", "0.5")
    _agrees_with_the_server(result, 60)
    assert result["workers"] == 1 and result["signed_in"] == 30 and result["nginx_cpu_pct"] is None


def test_two_processes_behind_nginx_with_redis_counts_agree(tmp_path: Path) -> None:
    redis_url = require_redis()
    if not nginx.available():
        unavailable(f"nginx is not installed at {nginx.NGINX} (apt-get install nginx)")
    result = _bench(tmp_path, "--viewers", "60", "--seconds", "2", "--workers", "2", "--redis", redis_url)
    _agrees_with_the_server(result, 60)
    assert result["workers"] == 2 and result["nginx_cpu_pct"] is not None


def test_the_documented_nginx_site_is_the_one_run(tmp_path: Path) -> None:
    config = nginx.configure(tmp_path, 8123, [9001, 9002]).read_text()
    site = nginx.site_block()
    assert "upstream knowcast" in site and "proxy_set_header Upgrade $http_upgrade;" in site
    assert "listen 127.0.0.1:8123 reuseport;" in config and "server 127.0.0.1:9001 max_fails=0;" in config
    assert "server 127.0.0.1:8001" not in config  # the documented ports were replaced, not added to
    for line in ("location ~ ^/api/v1/rooms/[0-9]+/live$ {", "least_conn;", "keepalive 128;", "gzip_static on;"):
        assert line in config
    assert f"alias {STATIC_DIR / 'dist'}/;" in config and "/srv/knowcast" not in config  # this checkout's built files


def test_nginx_serves_the_hashed_files_as_knowcast_would(tmp_path: Path) -> None:
    """The documented static location answers a built file with the same bytes, its gzip copy to a browser
    that accepts gzip, and immutable caching; nginx counts it in static.log."""
    if not nginx.available():
        unavailable(f"nginx is not installed at {nginx.NGINX} (apt-get install nginx)")
    name = json.loads((STATIC_DIR / "dist" / "manifest.json").read_text())["dist/room_page.js"]
    name = name if isinstance(name, str) else name["file"]
    port = free_port()
    with nginx.running(tmp_path, port, [free_port()]):
        url = f"http://127.0.0.1:{port}/static/dist/{name.rsplit('/', 1)[-1]}"
        plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
        zipped = httpx.get(url, headers={"Accept-Encoding": "gzip"})
        missing = httpx.get(f"http://127.0.0.1:{port}/static/dist/room-NOTBUILT.js")
    built = (STATIC_DIR / "dist" / name.rsplit("/", 1)[-1]).read_bytes()
    assert plain.status_code == 200 and plain.content == built
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == built  # httpx unzips it
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert missing.status_code == 404
    assert nginx.static_answers(tmp_path) == 2 and nginx.static_answers(tmp_path, 404) == 1
