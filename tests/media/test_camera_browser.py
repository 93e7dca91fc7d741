"""'Go live with camera' for real: Chromium at phone size with a fake camera and microphone publishes over WHIP
from the host console to a real server process; the HLS program appears and a frame decodes from it."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.live_server import LiveServer, start_server
from tests.media.conftest import FFMPEG, fake_media_chromium, make_room_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]  # a hung WebRTC session fails alone


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with fake_media_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = start_server(tmp_path_factory.mktemp("camera"), KNOWCAST_MEDIA_RECONNECT_GRACE_SECONDS="30")
    yield app
    app.stop()


def _until(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _segments(server: LiveServer, room_id: int) -> list[str]:
    response = httpx.get(f"{server.url}/media/rooms/{room_id}/live.m3u8", timeout=10)
    if response.status_code != 200:
        return []
    return [line for line in response.text.splitlines() if line and not line.startswith("#")]


def test_host_goes_live_from_the_console_with_the_phone_camera(
    server: LiveServer, new_context: Any, artifacts: Path
) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, _, email = pool.submit(asyncio.run, make_room_in(server)).result()
    page = new_context(phone=True, permissions=["camera", "microphone"]).new_page()
    page.goto(f"{server.url}/signin?next=/studio/rooms/{room_id}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=signin-form] button[type=submit]")
    page.wait_for_url(f"**/studio/rooms/{room_id}")

    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.click("[data-testid=camera-start]")
    try:
        page.wait_for_selector("[data-testid=camera][data-camera=live]", timeout=60_000)
    except Exception:
        status = page.text_content("[data-testid=camera-status]")
        pytest.fail(f"camera not live: {status!r}; console {console}; server log:\n{server.log()[-3000:]}")
    assert page.is_visible("[data-testid=camera-stop]") and not page.is_visible("[data-testid=camera-start]")
    segments = _until(lambda: len(_segments(server, room_id)) >= 3 and _segments(server, room_id), "3 segments")
    page.wait_for_selector("[data-testid=stream-health][data-publishing=true]", timeout=30_000)
    page.screenshot(path=str(artifacts / "console-camera-live.png"))

    room = httpx.get(f"{server.url}/api/v1/rooms/{room_id}", timeout=10).json()
    assert room["state"] == "live"
    segment = httpx.get(f"{server.url}/media/rooms/{room_id}/{segments[-1]}", timeout=10)
    assert segment.status_code == 200 and segment.content[:1] == b"\x47"
    path = artifacts / "camera-segment.ts"
    path.write_bytes(segment.content)
    probe = [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(path), "-frames:v", "1"]
    picture = subprocess.run([*probe, "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True)
    assert len(picture.stdout) >= 320 * 240  # a whole decoded picture (at least QVGA) came out of the program
    info = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    assert "Video: h264" in info and "Audio: aac" in info

    page.click("[data-testid=camera-stop]")
    page.wait_for_selector("[data-testid=camera][data-camera=off]")
    assert page.is_visible("[data-testid=camera-start]") and not page.is_visible("[data-testid=camera-stop]")
    page.wait_for_selector("[data-testid=stream-health][data-publishing=false]", timeout=30_000)
