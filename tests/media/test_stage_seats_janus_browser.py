"""连麦 guests see each other through Janus (scaled mode), in browsers: the host broadcasts over RTMP and two guests
at phone size, each in a Chromium of its own whose fake camera loops a one-colour .y4m (red, blue), join from their
invitation links against a real server process and a real Janus of the test's own. Each page's seat watches the
other guest's ``guest:<id>`` feed in the stage videoroom (``data-via="janus"`` on the seat), labelled with their
name, and the picture there is the other's colour; when Janus stops, each seat shows the other again from the
page's own connection (the fallback); when one leaves, the other's seat empties. ICE runs over
loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from benchmarks.janus_gateway import JanusServer, participants

from knowcast.media.janus_program import videoroom_of
from knowcast.media.janus_stage import HOST, STAGE
from tests.live_server import SECRET as LIVE_SECRET
from tests.live_server import LiveServer
from tests.media.conftest import make_room_in, publish_flv, wait_in_page
from tests.media.test_camera_browser import _until
from tests.media.test_player_janus_browser import scaled_server
from tests.media.test_stage_seats_browser import BLUE, RED, invitations, join, red_and_blue_chromiums, seat_shows

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    with red_and_blue_chromiums(tmp_path_factory.mktemp("cameras")) as both:
        yield both


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, janus_gateway: JanusServer) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("janus-seats")
    with scaled_server(folder, janus_gateway.env(), KNOWCAST_MEDIA_RECONNECT_GRACE_SECONDS="30") as app:
        yield app


async def _guests_in_janus(janus: JanusServer, janus_room: int) -> list[str]:
    for _ in range(300):
        inside = await participants(janus, janus_room) or []
        displays = sorted(p["display"] for p in inside if p.get("publisher"))
        if HOST in displays and len([d for d in displays if d.startswith("guest:")]) == 2:
            return displays
        await asyncio.sleep(0.2)
    pytest.fail("the host and both guests never appeared in the stage videoroom")


def test_two_guests_in_scaled_mode_see_each_other_in_their_seats_through_janus(
    server: LiveServer, janus_gateway: JanusServer, browsers: list[Any], artifacts: Path, sample_flv: Path
) -> None:
    red_browser, blue_browser = browsers
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, _ = pool.submit(asyncio.run, make_room_in(server)).result()
        red_token, blue_token = pool.submit(asyncio.run, invitations(server, room_id, ["小红", "小蓝"])).result()
        publisher = publish_flv(server, key, sample_flv)
        try:
            red = join(red_browser, server, red_token)
            blue = join(blue_browser, server, blue_token)
            assert red.get_attribute("[data-testid=stage-join]", "data-janus") == "true"
            stage_room = videoroom_of(LIVE_SECRET, room_id, STAGE)[0]
            displays = pool.submit(asyncio.run, _guests_in_janus(janus_gateway, stage_room)).result()
            assert len(displays) == 3  # the host and the two guests, each published once
            for page, other, colour in ((red, "小蓝", BLUE), (blue, "小红", RED)):
                seat = "document.querySelector(\"[data-testid=stage-seat][data-seat='0']\")"
                wait_in_page(page, f"{seat}.dataset.via === 'janus'", 60_000)  # the other's feed from Janus
                assert page.locator("[data-testid=stage-seat][data-seat='0']").inner_text().strip() == other
                assert page.locator("[data-testid=stage-seat]:visible").count() == 1  # one other guest, one seat
                seated = page.evaluate(f"{seat}.dataset.guestId")
                assert f"guest:{seated}" in displays  # the seat's guest is one of the Janus publishers
                _until(lambda page=page, colour=colour: seat_shows(page, 0, colour), f"{other}'s picture via Janus")
                assert page.evaluate(f"{seat}.dataset.via") == "janus"  # still Janus, not the fallback
                video = f"{seat}.querySelector('video')"
                start = page.evaluate(f"{video}.currentTime")
                wait_in_page(page, f"{video}.currentTime > {start} + 1", 40_000)
            red_seat = red.evaluate("document.querySelector(\"[data-seat='0']\").dataset.guestId")
            blue_seat = blue.evaluate("document.querySelector(\"[data-seat='0']\").dataset.guestId")
            assert red_seat != blue_seat  # each sees the other, never themselves
            red.screenshot(path=str(artifacts / "guest-red-sees-blue-janus.png"))
            blue.screenshot(path=str(artifacts / "guest-blue-sees-red-janus.png"))
            box = red.locator("[data-testid=stage-seat][data-seat='0'] video").bounding_box()
            assert box is not None and box["x"] + box["width"] <= 390  # the grid still fits the phone's width

            # Janus goes away: each seat falls back to the other guest's picture on the page's own connection
            janus_gateway.stop()
            try:
                for page, colour in ((red, BLUE), (blue, RED)):
                    fallen = "document.querySelector(\"[data-seat='0']\").dataset.via === undefined"
                    wait_in_page(page, fallen, 90_000)
                    _until(lambda page=page, colour=colour: seat_shows(page, 0, colour), "the seat from the connection")
            finally:
                janus_gateway.start()

            blue.click("[data-testid=stage-leave-button]")
            red.wait_for_selector("[data-testid=stage-seat][data-seat='0']", state="hidden", timeout=30_000)
            assert red.get_attribute("[data-testid=stage-join]", "data-state") == "live"  # the others stay on
            gone = "document.querySelector(\"[data-seat='0']\").dataset.via === undefined"
            assert red.evaluate(gone)  # the empty seat no longer watches Janus
            red.click("[data-testid=stage-leave-button]")
        finally:
            publisher.terminate()
            publisher.wait()
