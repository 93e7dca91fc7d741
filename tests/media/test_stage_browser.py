"""连麦 in browsers: Chromium with a fake camera and microphone for both people. The host goes live with camera
from the console (phone size), makes an invite link there, and a guest opens it in a second browser context at
phone size and joins; each sees the other's video; the program on HLS changes to the two-person layout; the
host mutes, switches to picture in picture, and removes the guest, whose page then says so.

Chromium's fake camera draws the same moving pattern for both people, so which picture is whose cannot be told
by colour here (tests/media/test_stage.py does that with scripted red and blue publishers): the program check
is the layout itself — side by side, each 4:3 picture fitted into half the width leaves black bands above and
below, where the host alone fills the picture.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.live_server import LiveServer, start_server
from tests.media.conftest import FFMPEG, fake_media_chromium, make_room_in
from tests.media.test_camera_browser import _segments, _until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with fake_media_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = start_server(tmp_path_factory.mktemp("stage"), KNOWCAST_MEDIA_RECONNECT_GRACE_SECONDS="30")
    yield app
    app.stop()


def _top_band_luma(app: LiveServer, room_id: int, seen: set[str], folder: Path) -> float | None:
    """The brightness (brightest channel) of the top tenth of the first picture of the second segment not in
    ``seen`` (None: not there yet)."""
    fresh = [uri for uri in _segments(app, room_id) if uri not in seen]
    if len(fresh) < 2:
        return None
    path = folder / "program.ts"
    path.write_bytes(httpx.get(f"{app.url}/media/rooms/{room_id}/{fresh[1]}", timeout=10).content)
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(path), "-frames:v", "1"]
    args += ["-vf", "crop=iw/2:ih/10:iw/4:0,scale=1:1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    return float(max(subprocess.run(args, check=True, capture_output=True).stdout[:3]))


def _playing(page: Any, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "v => v.videoWidth > 0 && v.readyState >= 2"))


def test_host_invites_a_guest_who_joins_from_a_phone_and_is_muted_and_removed(
    server: LiveServer, new_context: Any, artifacts: Path
) -> None:
    with ThreadPoolExecutor(1) as pool:
        room_id, _, email = pool.submit(asyncio.run, make_room_in(server)).result()
    host = new_context(phone=True, permissions=["camera", "microphone"]).new_page()
    host.goto(f"{server.url}/signin?next=/studio/rooms/{room_id}")
    host.fill("input[name=email]", email)
    host.fill("input[name=password]", PASSWORD)
    host.click("[data-testid=signin-form] button[type=submit]")
    host.wait_for_url(f"**/studio/rooms/{room_id}")
    host.click("[data-testid=camera-start]")
    host.wait_for_selector("[data-testid=camera][data-camera=live]", timeout=60_000)
    _until(lambda: len(_segments(server, room_id)) >= 2, "the host's program")
    alone = _until(lambda: _top_band_luma(server, room_id, set(), artifacts) or None, "a program picture")
    assert alone > 60  # the host alone: the fake camera's picture reaches the top edge

    host.click("[data-testid=stage-invite] button[type=submit]")
    link = host.wait_for_selector("[data-testid=stage-link]:visible")  # shown once the invitation is made
    url = link.input_value()
    assert "/stage/join#" in url
    seen = set(_segments(server, room_id))

    guest = new_context(phone=True, permissions=["camera", "microphone"]).new_page()
    guest.goto(server.url + "/stage/join" + url.split("/stage/join", 1)[1])  # the link names the public URL
    guest.click("[data-testid=stage-join-button]")
    try:
        guest.wait_for_selector("[data-testid=stage-join][data-state=live]", timeout=60_000)
    except Exception:
        status = guest.text_content("[data-testid=stage-status]")
        pytest.fail(f"guest not on: {status!r}; server log:\n{server.log()[-3000:]}")
    _until(lambda: _playing(guest, "[data-testid=stage-host-video]"), "the guest to see the host")
    host.wait_for_selector("[data-testid=stage-guest]", timeout=30_000)
    _until(lambda: _playing(host, "[data-testid=stage-guest] video"), "the host to see the guest")

    def composed() -> bool:
        luma = _top_band_luma(server, room_id, seen, artifacts)
        return luma is not None and luma < 25  # black bands: two 4:3 pictures side by side

    _until(composed, "the program to show host and guest side by side")
    host.screenshot(path=str(artifacts / "console-stage.png"))
    guest.screenshot(path=str(artifacts / "guest-stage.png"))

    host.click("[data-testid=stage-guest] [data-guest=mute]")
    host.wait_for_selector("[data-testid=stage-guest][data-muted=true]")
    host.check("[data-testid=stage-layout-pip]")
    stage_url = f"/api/v1/media/rooms/{room_id}/stage"

    def layout() -> str:
        return str(host.evaluate("url => fetch(url).then(r => r.json()).then(s => s.layout)", stage_url))

    _until(lambda: layout() == "pip", "the layout to switch to picture in picture")
    host.click("[data-testid=stage-guest] [data-guest=remove]")
    host.wait_for_selector("[data-testid=stage-guest]", state="detached", timeout=30_000)
    guest.wait_for_selector("[data-testid=stage-join][data-state=ended]", timeout=60_000)
    host.click("[data-testid=camera-stop]")
