"""External mode for real: Debian's nginx with libnginx-mod-rtmp asks a live Knowcast server process whether a
key may publish (``on_publish`` form POST), renames the stream to ``room-<id>``, writes HLS, and tells Knowcast
when the stream is done. ffmpeg publishes to nginx; the room goes live; its HLS plays from nginx."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, free_port, start_server
from tests.media.conftest import FFMPEG, make_room_in
from tests.services import unavailable

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
HOOK = "nginx-hook-secret"

NGINX_CONF = """
load_module {module};
daemon off;
master_process off;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp_port};
    chunk_size 4096;
    application live {{
      live on;
      record off;
      on_publish http://127.0.0.1:{app_port}/api/v1/media/hooks/nginx/publish?secret={hook};
      on_publish_done http://127.0.0.1:{app_port}/api/v1/media/hooks/nginx/publish-done?secret={hook};
      push rtmp://127.0.0.1:{rtmp_port}/hls;
    }}
    application hls {{
      live on;
      allow publish 127.0.0.1;
      deny publish all;
      deny play all;
      hls on;
      hls_path {root}/hls;
      hls_nested on;
      hls_fragment 1s;
      hls_playlist_length 6s;
    }}
  }}
}}
http {{
  access_log off;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  server {{
    listen 127.0.0.1:{http_port};
    location /hls/ {{
      root {root};
      types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
      add_header Cache-Control no-cache;
    }}
  }}
}}
"""


@dataclass
class Nginx:
    rtmp_port: int
    http_port: int
    process: subprocess.Popen[bytes]
    root: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Nginx]]:
    if not MODULE.exists() or subprocess.run(["which", "nginx"], capture_output=True).returncode != 0:
        unavailable("nginx with libnginx-mod-rtmp is not installed (apt-get install nginx libnginx-mod-rtmp)")
    root = tmp_path_factory.mktemp("nginx")
    (root / "tmp").mkdir()
    rtmp_port, http_port = free_port(), free_port()
    app = start_server(
        tmp_path_factory.mktemp("live"),
        KNOWCAST_INGEST="external",
        KNOWCAST_MEDIA_HOOK_SECRET=HOOK,
        KNOWCAST_MEDIA_RECONNECT_GRACE_SECONDS="1",
        KNOWCAST_MEDIA_PLAYBACK_URL=f"http://127.0.0.1:{http_port}/hls/room-{{room_id}}/index.m3u8",
    )
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            module=MODULE, root=root, rtmp_port=rtmp_port, http_port=http_port, app_port=app.port, hook=HOOK
        )
    )
    process = subprocess.Popen(["nginx", "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")])
    _wait_port(http_port, process, root)
    yield app, Nginx(rtmp_port, http_port, process, root)
    process.terminate()
    process.wait(10)
    app.stop()


def _wait_port(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("nginx exited:\n" + (root / "error.log").read_text(errors="replace"))
        try:
            httpx.get(f"http://127.0.0.1:{port}/hls/none", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not start")


async def _publish(nginx: Nginx, key: str, sample: Path, loop: bool) -> asyncio.subprocess.Process:
    args = [FFMPEG, "-hide_banner", "-loglevel", "warning", "-re", *(["-stream_loop", "-1"] if loop else [])]
    args += ["-i", str(sample), "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{nginx.rtmp_port}/live/{key}"]
    return await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def _until(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


async def test_nginx_rtmp_asks_knowcast_and_the_room_plays_from_nginx(
    server: tuple[LiveServer, Nginx], sample_flv: Path
) -> None:
    app, nginx = server
    room_id, key, _ = await make_room_in(app)
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as client:

        async def state() -> str:
            return str((await client.get(f"/api/v1/rooms/{room_id}")).json()["state"])

        wrong = await _publish(nginx, "kc_wrong-key", sample_flv, loop=False)
        assert await asyncio.wait_for(wrong.wait(), 30) != 0
        assert await state() == "scheduled"

        publisher = await _publish(nginx, key, sample_flv, loop=True)
        try:

            async def live() -> bool:
                return await state() == "live"

            await _until(live, "the room to go live through nginx's on_publish")
            status = (await client.get(f"/api/v1/media/rooms/{room_id}/status")).json()
            playlist_url = status["stream_url"]
            assert playlist_url == f"http://127.0.0.1:{nginx.http_port}/hls/room-{room_id}/index.m3u8"
            assert key not in playlist_url

            async def playlist() -> httpx.Response | None:
                response = await client.get(playlist_url)
                return response if response.status_code == 200 and ".ts" in response.text else None

            response = await _until(playlist, "nginx to write HLS under the renamed stream")
            assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
            segment = next(line for line in response.text.splitlines() if line.endswith(".ts"))
            data = await client.get(playlist_url.rsplit("/", 1)[0] + "/" + segment)
            assert data.status_code == 200 and data.content[:1] == b"\x47"
        finally:
            publisher.terminate()
            await publisher.wait()

        async def ended() -> bool:
            return await state() == "ended"

        await _until(ended, "on_publish_done to end the room after the grace period")
