"""The viewer's player in a real Chromium against a real server process with the embedded RTMP gate: the
states "starting soon", "live" (video actually advancing), "reconnecting", "ended — watch the replay", and the
replay page playing the recording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer, start_server
from tests.media.conftest import make_room_in, publish_flv, wait_in_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = start_server(tmp_path_factory.mktemp("live"), KNOWCAST_MEDIA_RECONNECT_GRACE_SECONDS="8")
    yield app
    app.stop()


def _player_state(page: Any, state: str, timeout_ms: int = 30_000) -> None:
    wait_in_page(page, f"document.getElementById('stage').dataset.player === '{state}'", timeout_ms)


def test_player_states_from_starting_to_replay(
    server: LiveServer,
    new_context: Any,
    artifacts: Path,
    sample_flv: Path,
) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, _ = pool.submit(asyncio.run, make_room_in(server)).result()
    page = new_context(phone=True).new_page()
    page.goto(f"{server.url}/rooms/{room_id}")
    assert page.get_attribute("#stage", "data-player") == "starting"
    assert page.is_visible("[data-testid=player-starting]")

    publisher = publish_flv(server, key, sample_flv)
    try:
        _player_state(page, "live")
        wait_in_page(page, "document.getElementById('player').currentTime > 1")
        assert page.is_visible("[data-testid=player-live]")
        page.screenshot(path=str(artifacts / "live.png"))
    finally:
        publisher.terminate()
        publisher.wait(10)

    _player_state(page, "reconnecting")
    assert page.is_visible("[data-testid=player-reconnecting]")
    page.screenshot(path=str(artifacts / "reconnecting.png"))
    _player_state(page, "ended", timeout_ms=60_000)
    page.wait_for_selector("[data-testid=replay-link]:not([hidden])", timeout=30_000)
    page.screenshot(path=str(artifacts / "ended.png"))

    page.click("[data-testid=replay-link]")
    page.wait_for_url(f"**/rooms/{room_id}/replay")
    wait_in_page(page, "document.getElementById('replay-video').currentTime > 1")
    duration = page.evaluate("document.getElementById('replay-video').duration")
    assert duration > 1 and duration != float("inf")  # a VOD, not a live stream
    page.screenshot(path=str(artifacts / "replay.png"))


def test_the_console_shows_stream_health_while_publishing(
    server: LiveServer, new_context: Any, artifacts: Path, sample_flv: Path
) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from knowcast import csrf
    from tests.conftest import PASSWORD
    from tests.live_server import SECRET

    with ThreadPoolExecutor(1) as pool:
        room_id, key, email = pool.submit(asyncio.run, make_room_in(server)).result()
    nonce = csrf.new_nonce()
    signin = httpx.post(
        f"{server.url}/api/v1/auth/signin",
        json={"email": email, "password": PASSWORD},
        cookies={csrf.COOKIE: nonce},
        headers={"x-csrf-token": csrf.token_for(SECRET, nonce)},
    )
    assert signin.status_code == 200, signin.text
    context = new_context(locale="en")
    context.add_cookies([{"name": name, "value": value, "url": server.url} for name, value in signin.cookies.items()])
    page = context.new_page()
    page.goto(f"{server.url}/studio/rooms/{room_id}")
    assert page.url.endswith(f"/studio/rooms/{room_id}")
    assert page.get_attribute("[data-testid=stream-health]", "data-publishing") == "false"
    publisher = publish_flv(server, key, sample_flv)
    try:
        wait_in_page(page, "document.querySelector('[data-testid=stream-health]').dataset.publishing === 'true'")
        wait_in_page(page, "document.querySelector('[data-health=bitrate]').textContent.includes('kbps')")
        assert "h264 / aac" in page.text_content("[data-health=codecs]")
        page.screenshot(path=str(artifacts / "console.png"), full_page=True)
    finally:
        publisher.terminate()
        publisher.wait(10)
