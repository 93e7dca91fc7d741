"""Media fixtures: an app with the embedded RTMP gate on a free port, and real ffmpeg publishers.

The publisher loops a short H.264/AAC FLV (made once per session from ffmpeg's test pattern and a tone) with
``-re -c copy``, so publishing costs almost no CPU on the shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from benchmarks.janus_gateway import JanusServer, janus_server

from knowcast.accounts.models import Role
from knowcast.media.ffmpeg import ffmpeg_binary
from knowcast.media.runtime import Media
from knowcast.settings import Settings, load_settings
from tests.browser.conftest import artifacts, browser, new_context  # noqa: F401  (browser fixtures, shared)
from tests.conftest import PASSWORD, settings_for
from tests.live_server import SECRET as LIVE_SECRET
from tests.live_server import LiveServer
from tests.services import require_janus

FFMPEG = ffmpeg_binary(None)


def make_sample(
    path: Path, *, seconds: int = 4, video: str = "libx264", audio: str = "aac", gop: int = 25, size: str = "320x180"
) -> Path:
    """A small test-pattern FLV, encoded faster than real time (``size="360x640"`` for a phone's portrait stream)."""
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    vcodec = ["-c:v", video] + (["-preset", "veryfast", "-pix_fmt", "yuv420p"] if video == "libx264" else [])
    args += [*vcodec, "-g", str(gop), "-c:a", audio, "-b:a", "64k", "-f", "flv", str(path)]
    subprocess.run(args, check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def sample_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("samples") / "h264-aac.flv")


@pytest.fixture(scope="module")
def janus_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusServer]:
    """A Janus of the module's own (benchmarks/janus_gateway.py); skips without Janus, fails so in CI."""
    with janus_server(require_janus(), tmp_path_factory.mktemp("janus")) as server:
        yield server


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The shared settings plus embedded ingest on a free port and a short reconnect grace."""
    return settings_for(
        database_url,
        tmp_path / "data",
        ingest="embedded",
        rtmp_port=0,
        media_reconnect_grace_seconds=2,
        media_min_free_mb=0,
    )


@pytest.fixture
def media(app: Any) -> Media:
    result: Media = app.state.ctx.runtime(Media)
    return result


@dataclass
class Publisher:
    process: asyncio.subprocess.Process
    log: list[str]

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await asyncio.wait_for(self.process.wait(), 10)

    async def result(self, timeout: float = 30) -> tuple[int, str]:
        _, err = await asyncio.wait_for(self.process.communicate(), timeout)
        return self.process.returncode or 0, err.decode(errors="replace")


@pytest.fixture
async def publish(media: Media) -> AsyncIterator[Callable[..., Awaitable[Publisher]]]:
    """publish(key, source=sample, loop=True) → a real ffmpeg publishing to the gate with ``-re -c copy``."""
    started: list[Publisher] = []

    async def start(key: str, source: Path, loop: bool = True, app: str = "live") -> Publisher:
        assert media.gate is not None
        args = [FFMPEG, "-hide_banner", "-loglevel", "warning", "-re"]
        args += (["-stream_loop", "-1"] if loop else []) + ["-i", str(source), "-c", "copy", "-f", "flv"]
        args.append(f"rtmp://127.0.0.1:{media.gate.port}/{app}/{key}")
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        publisher = Publisher(process, [])
        started.append(publisher)
        return publisher

    yield start
    for publisher in started:
        await publisher.stop()


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class HostRoom:
    id: int
    stream_key: str
    host: Any


@pytest.fixture
def make_room(make_user: Any) -> Callable[..., Awaitable[HostRoom]]:
    async def make(access_mode: str = "public") -> HostRoom:
        host = await make_user(Role.HOST)
        body = {"title": "Video test", "scheduled_at": "2030-01-01T10:00:00Z", "access_mode": access_mode}
        response = await host.client.post("/api/v1/rooms", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        return HostRoom(data["id"], data["stream_key"], host)

    return make


async def room_state(client: Any, room_id: int) -> str:
    return str((await client.get(f"/api/v1/rooms/{room_id}")).json()["state"])


async def make_room_in(server: LiveServer) -> tuple[int, str, str]:
    """A host (password PASSWORD) and a public room in a live server's database → (room id, stream key, email)."""
    from knowcast.accounts import service as accounts
    from knowcast.accounts.schemas import SignUp
    from knowcast.app import build_context
    from knowcast.db.types import utcnow
    from knowcast.rooms import service as rooms
    from knowcast.rooms.schemas import RoomCreate

    settings = load_settings(database_url=server.database_url, data_dir=server.data_dir, secret_key=LIVE_SECRET)
    ctx = build_context(settings)
    email = f"host{time.monotonic_ns()}@example.com"
    try:
        async with ctx.db.session() as session:
            data = SignUp(email=email, password=PASSWORD, display_name="Host")
            host = await accounts.create_user(session, ctx, data, Role.HOST)
            room = await rooms.create_room(session, ctx, host, RoomCreate(title="Video", scheduled_at=utcnow()))
            return room.id, room.stream_key, email
    finally:
        await ctx.db.dispose()


# ---- real browsers against a real server (the *_browser.py modules) ------------------------------------------

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@contextlib.contextmanager
def fake_media_chromium() -> Iterator[Any]:
    """Chromium with the fake camera (a moving test picture) and microphone (a beep) and no permission prompt."""
    with fake_camera_chromiums([None]) as (chromium,):
        yield chromium


@contextlib.contextmanager
def fake_camera_chromiums(cameras: list[Path | None]) -> Iterator[list[Any]]:
    """One fake-media Chromium per camera: a looped .y4m file (Chromium reads one per browser, so people who must
    be told apart need browsers of their own), or None for the moving test picture."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS
    from tests.services import require_chromium

    executable = require_chromium()
    with sync_playwright() as playwright:
        browsers = []
        for camera in cameras:
            extra = [] if camera is None else [f"--use-file-for-fake-video-capture={camera}"]
            browsers.append(
                playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS + FAKE_MEDIA + extra)
            )
        yield browsers
        for chromium in browsers:
            chromium.close()


def publish_flv(server: LiveServer, key: str, sample: Path) -> subprocess.Popen[bytes]:
    """ffmpeg sending ``sample`` in a loop, in real time, to the server's embedded RTMP gate, as OBS would."""
    url = f"rtmp://127.0.0.1:{server.env['KNOWCAST_RTMP_PORT']}/live/{key}"
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(sample)]
    return subprocess.Popen([*args, "-c", "copy", "-f", "flv", url], stdin=subprocess.DEVNULL)


def wait_in_page(page: Any, expression: str, timeout_ms: int = 30_000) -> None:
    """Poll an expression with evaluate (wait_for_function evaluates strings, which our CSP forbids)."""
    for _ in range(timeout_ms // 200):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(200)
    pytest.fail(f"timed out waiting for {expression}")
