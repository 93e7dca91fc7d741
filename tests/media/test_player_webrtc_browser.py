"""The viewer's player over WebRTC (WHEP) in a real Chromium at phone size against a real server process with
the embedded RTMP gate: the first viewer watches over WebRTC; with the process's WebRTC budget
(KNOWCAST_WEBRTC_MAX_VIEWERS, 1 here) taken, the next watches HLS; a viewer who leaves frees the place for the
next one. ICE runs over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from knowcast.web.room_page import MAX_AGE as ROOM_PAGE_MAX_AGE
from tests.live_server import LiveServer, start_server
from tests.media.conftest import make_room_in, publish_flv, wait_in_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = start_server(tmp_path_factory.mktemp("whep"), KNOWCAST_WEBRTC_MAX_VIEWERS="1")
    yield app
    app.stop()


def _watching(page: Any, transport: str) -> None:
    """Playing for real over ``transport``: live, frames decoded, time advancing."""
    wait_in_page(page, f"document.getElementById('stage').dataset.transport === '{transport}'", 40_000)
    wait_in_page(page, "document.getElementById('stage').dataset.player === 'live'", 40_000)
    wait_in_page(page, "document.getElementById('player').videoWidth > 0", 40_000)
    start = page.evaluate("document.getElementById('player').currentTime")
    wait_in_page(page, f"document.getElementById('player').currentTime > {start} + 1", 40_000)


def test_webrtc_first_then_hls_past_the_budget_and_a_place_freed_on_leaving(
    server: LiveServer, new_context: Any, artifacts: Path, sample_flv: Path
) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, _ = pool.submit(asyncio.run, make_room_in(server)).result()
    publisher = publish_flv(server, key, sample_flv)
    try:
        first = new_context(phone=True).new_page()
        first.goto(f"{server.url}/rooms/{room_id}")
        _watching(first, "webrtc")
        assert first.get_attribute("#stage", "data-webrtc-url") == f"/whep/rooms/{room_id}"
        # the shop's program clock: a WebRTC viewer is a fraction of a second behind, so the program is now
        # (the program date first: read before it, Date.now() could be a millisecond earlier than "now")
        behind = first.evaluate("(p => Date.now() - p)(window.knowcast.player.programDate().getTime())")
        assert 0 <= behind < 1000
        first.screenshot(path=str(artifacts / "webrtc-viewer.png"))

        status = f"{server.url}/api/v1/media/rooms/{room_id}/status"
        assert httpx.get(status).json()["webrtc_url"] is None  # the one place is taken: no more offers
        second = new_context(phone=True).new_page()
        second.goto(f"{server.url}/rooms/{room_id}")
        _watching(second, "hls")  # no offer (or one from the page's shared render: 503 media.webrtc_full), HLS

        first.close()  # leaving ends its WebRTC session (DELETE on pagehide): the place is free again
        for _ in range(50):
            if httpx.get(status).json()["webrtc_url"]:
                break
            time.sleep(0.2)
        time.sleep(ROOM_PAGE_MAX_AGE + 1)  # the room page's shared render of the full moment has expired
        third = new_context(phone=True).new_page()
        third.goto(f"{server.url}/rooms/{room_id}")
        _watching(third, "webrtc")
    finally:
        publisher.terminate()
        publisher.wait(10)
