"""连麦 guests see each other, in browsers: two guests at phone size, each in a Chromium of its own whose fake
camera loops a one-colour .y4m (red for one, blue for the other: Chromium reads one camera file per browser),
open their invitation links and join; each page shows the other in a seat labelled with their name, and the
picture in that seat is the other's colour; when one leaves, the other's seat empties.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PHONE
from tests.live_server import SECRET as LIVE_SECRET
from tests.live_server import LiveServer, start_server
from tests.media.conftest import FFMPEG, fake_camera_chromiums, make_room_in, wait_in_page
from tests.media.test_camera_browser import _until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
RED, BLUE = (220, 0, 0), (0, 0, 220)


def camera_file(folder: Path, name: str, rgb: tuple[int, int, int]) -> Path:
    path = folder / f"{name}.y4m"
    colour = "0x{:02x}{:02x}{:02x}".format(*rgb)
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    args += ["-i", f"color=c={colour}:s=320x240:r=15:d=2", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True, capture_output=True)
    return path


@contextmanager
def red_and_blue_chromiums(folder: Path) -> Iterator[list[Any]]:
    """Two Chromiums whose fake cameras show red and blue (the two guests of these tests)."""
    with fake_camera_chromiums([camera_file(folder, "red", RED), camera_file(folder, "blue", BLUE)]) as both:
        yield both


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    with red_and_blue_chromiums(tmp_path_factory.mktemp("cameras")) as both:
        yield both


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = start_server(tmp_path_factory.mktemp("seats"))
    yield app
    app.stop()


async def invitations(server: LiveServer, room_id: int, names: list[str]) -> list[str]:
    """One invitation link token per name, made in the live server's database as the host's console would."""
    from knowcast.accounts.models import User
    from knowcast.app import build_context
    from knowcast.media import invites
    from knowcast.rooms.models import Room
    from knowcast.settings import load_settings

    settings = load_settings(database_url=server.database_url, data_dir=server.data_dir, secret_key=LIVE_SECRET)
    ctx = build_context(settings)
    try:
        async with ctx.db.session() as session:
            room = await session.get(Room, room_id)
            assert room is not None
            host = await session.get(User, room.host_id)
            assert host is not None
            made = [await invites.create(session, host, room, user_id=None, name=n, ttl_seconds=600) for n in names]
            return [new.token for new in made]
    finally:
        await ctx.db.dispose()


def join(browser: Any, server: LiveServer, token: str) -> Any:
    context = browser.new_context(locale="zh-CN", permissions=["camera", "microphone"], **PHONE)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "kc_consent", "value": "essential", "domain": "127.0.0.1", "path": "/"}])
    page = context.new_page()
    page.goto(f"{server.url}/stage/join#{token}")
    page.click("[data-testid=stage-join-button]")
    try:
        page.wait_for_selector("[data-testid=stage-join][data-state=live]", timeout=60_000)
    except Exception:
        status = page.text_content("[data-testid=stage-status]")
        pytest.fail(f"guest not on: {status!r}; server log:\n{server.log()[-3000:]}")
    return page


SEAT_COLOUR = """seat => {
  const video = document.querySelector(`[data-seat="${seat}"] video`);
  if (!video || video.videoWidth === 0 || video.readyState < 2) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const g = canvas.getContext("2d");
  g.drawImage(video, 0, 0);
  const [r, gr, b] = g.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data;
  return [r, gr, b];
}"""


def seat_shows(page: Any, seat: int, rgb: tuple[int, int, int]) -> bool:
    seen = page.evaluate(SEAT_COLOUR, seat)
    return seen is not None and all(abs(a - b) < 60 for a, b in zip(seen, rgb, strict=True))


def test_two_guests_on_phones_see_each_other_labelled_and_a_leaving_guest_empties_the_seat(
    server: LiveServer, browsers: list[Any], artifacts: Path
) -> None:
    red_browser, blue_browser = browsers
    with ThreadPoolExecutor(1) as pool:
        room_id, _, _ = pool.submit(asyncio.run, make_room_in(server)).result()
        red_token, blue_token = pool.submit(asyncio.run, invitations(server, room_id, ["小红", "小蓝"])).result()
    red = join(red_browser, server, red_token)
    blue = join(blue_browser, server, blue_token)
    for page, other, colour in ((red, "小蓝", BLUE), (blue, "小红", RED)):
        seat = page.wait_for_selector("[data-testid=stage-seat][data-seat='0']:visible", timeout=30_000)
        assert seat.inner_text().strip() == other  # labelled with the other guest's name
        assert page.locator("[data-testid=stage-seat]:visible").count() == 1  # one other guest, one seat
        _until(lambda page=page, colour=colour: seat_shows(page, 0, colour), f"{other}'s picture in the seat")
        wait_in_page(page, "document.querySelector('[data-stage=videos]').dataset.seats === '1'")
    red.screenshot(path=str(artifacts / "guest-red-sees-blue.png"))
    blue.screenshot(path=str(artifacts / "guest-blue-sees-red.png"))
    box = red.locator("[data-testid=stage-seat][data-seat='0'] video").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # the grid fits the phone's width

    blue.click("[data-testid=stage-leave-button]")
    red.wait_for_selector("[data-testid=stage-seat][data-seat='0']", state="hidden", timeout=30_000)
    assert red.get_attribute("[data-testid=stage-join]", "data-state") == "live"  # the others stay on
