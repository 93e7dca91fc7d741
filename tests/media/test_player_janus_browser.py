"""The viewer's player in Janus scaled mode, in a real Chromium at phone size against a real server process and a
real Janus of the test's own: the server publishes the program once into the room's Janus videoroom, and viewers
watch it there over WebRTC (the server's own WebRTC viewer budget, 0 here, no longer limits them); with Janus
unreachable the player plays HLS. ICE runs over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from benchmarks.janus_gateway import JanusServer, free_port, participants

from knowcast.media.janus_program import PROGRAM, videoroom_of
from tests.live_server import SECRET as LIVE_SECRET
from tests.live_server import LiveServer, start_server
from tests.media.conftest import make_room_in, publish_flv, wait_in_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@contextmanager
def scaled_server(folder: Path, janus: dict[str, str], **env: str) -> Iterator[LiveServer]:
    """`knowcast serve` in Janus scaled mode (``janus``: the settings' environment, ``JanusServer.env()``) with
    no embedded WebRTC budget, so that none of the viewers count against it; ``env``: more settings."""
    app = start_server(folder, KNOWCAST_WEBRTC_MAX_VIEWERS="0", **janus, **env)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, janus_gateway: JanusServer) -> Iterator[LiveServer]:
    with scaled_server(tmp_path_factory.mktemp("janus-player"), janus_gateway.env()) as app:
        yield app


def _watching(page: Any, transport: str) -> None:
    """Playing for real over ``transport``: live, frames decoded, time advancing."""
    wait_in_page(page, f"document.getElementById('stage').dataset.transport === '{transport}'", 40_000)
    wait_in_page(page, "document.getElementById('stage').dataset.player === 'live'", 40_000)
    wait_in_page(page, "document.getElementById('player').videoWidth > 0", 40_000)
    start = page.evaluate("document.getElementById('player').currentTime")
    wait_in_page(page, f"document.getElementById('player').currentTime > {start} + 1", 40_000)


def _live_room(server: LiveServer, sample: Path) -> tuple[int, Any]:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, _ = pool.submit(asyncio.run, make_room_in(server)).result()
    return room_id, publish_flv(server, key, sample)


def _program_in_janus(janus: JanusServer, janus_room: int) -> None:
    """Wait until the server has published the program into the videoroom (it does once the room is live)."""

    async def wait() -> None:
        for _ in range(300):
            inside = await participants(janus, janus_room)
            if inside and any(p["display"] == PROGRAM for p in inside):
                return
            await asyncio.sleep(0.2)
        pytest.fail("the program never appeared in the Janus room")

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        pool.submit(asyncio.run, wait()).result()


def test_viewers_watch_the_program_through_janus(
    server: LiveServer, janus_gateway: JanusServer, new_context: Any, artifacts: Path, sample_flv: Path
) -> None:
    room_id, publisher = _live_room(server, sample_flv)
    try:
        _program_in_janus(janus_gateway, videoroom_of(LIVE_SECRET, room_id)[0])
        viewers = [new_context(phone=True).new_page() for _ in range(2)]
        for page in viewers:
            page.goto(f"{server.url}/rooms/{room_id}")
        for page in viewers:
            _watching(page, "webrtc")
            assert page.get_attribute("#stage", "data-webrtc-via") == "janus"
            assert page.get_attribute("#stage", "data-webrtc-url") == f"/janus/rooms/{room_id}/ticket"
        frames = viewers[0].evaluate("document.getElementById('player').getVideoPlaybackQuality().totalVideoFrames")
        assert frames > 10
        viewers[0].screenshot(path=str(artifacts / "janus-viewer.png"))
    finally:
        publisher.terminate()
        publisher.wait(10)


def test_an_unreachable_janus_sends_the_viewer_to_hls(
    tmp_path_factory: pytest.TempPathFactory, new_context: Any, sample_flv: Path
) -> None:
    nobody = {
        "KNOWCAST_JANUS_URL": f"http://127.0.0.1:{free_port()}/janus",
        "KNOWCAST_JANUS_TOKEN_SECRET": "unused-secret",
        "KNOWCAST_JANUS_ADMIN_KEY": "unused-key",
    }
    with scaled_server(tmp_path_factory.mktemp("janus-down"), nobody) as app:
        room_id, publisher = _live_room(app, sample_flv)
        try:
            page = new_context(phone=True).new_page()
            page.goto(f"{app.url}/rooms/{room_id}")
            _watching(page, "hls")
            assert page.get_attribute("#stage", "data-webrtc-via") == "janus"  # offered, refused (503), HLS
        finally:
            publisher.terminate()
            publisher.wait(10)
