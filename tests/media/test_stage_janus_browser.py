"""连麦 in Janus scaled mode in a real Chromium at phone size, against a real server process and a real Janus of the
test's own: the host broadcasts over RTMP, a guest joins from the invite page with a fake camera, and the page
watches the host through Janus with the stage ticket it asks at its own session (``data-via="janus"``), and the
host's console watches the guest through Janus with the host's ticket, while the server has published the host
and the guest into the room's stage videoroom. ICE runs over loopback."""

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
from tests.conftest import PASSWORD
from tests.live_server import SECRET as LIVE_SECRET
from tests.live_server import LiveServer
from tests.media.conftest import fake_media_chromium, make_room_in, publish_flv, wait_in_page
from tests.media.test_player_janus_browser import scaled_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with fake_media_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, janus_gateway: JanusServer) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("janus-stage")
    with scaled_server(folder, janus_gateway.env(), KNOWCAST_MEDIA_RECONNECT_GRACE_SECONDS="30") as app:
        yield app


async def _invite(server: LiveServer, room_id: int) -> str:
    """An invitation by link to the room (as the console makes one), made in the server's database."""
    from knowcast.accounts import service as accounts
    from knowcast.app import build_context
    from knowcast.media import invites
    from knowcast.rooms import service as rooms
    from knowcast.settings import load_settings

    settings = load_settings(database_url=server.database_url, data_dir=server.data_dir, secret_key=LIVE_SECRET)
    ctx = build_context(settings)
    try:
        async with ctx.db.session() as session:
            room = await rooms.get_room(session, room_id)
            host = await accounts.get_user(session, room.host_id)
            made = await invites.create(session, host, room, user_id=None, name="Guest", ttl_seconds=600)
            return made.token
    finally:
        await ctx.db.dispose()


async def _stage_in_janus(janus: JanusServer, janus_room: int) -> list[str]:
    for _ in range(300):
        inside = await participants(janus, janus_room) or []
        displays = sorted(p["display"] for p in inside if p.get("publisher"))
        if HOST in displays and any(d.startswith("guest:") for d in displays):
            return displays
        await asyncio.sleep(0.2)
    pytest.fail("the host and the guest never appeared in the stage videoroom")


def test_a_guest_on_a_phone_and_the_host_console_watch_each_other_through_janus(
    server: LiveServer, janus_gateway: JanusServer, new_context: Any, artifacts: Path, sample_flv: Path
) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, email = pool.submit(asyncio.run, make_room_in(server)).result()
        publisher = publish_flv(server, key, sample_flv)
        try:
            host = new_context(phone=True).new_page()
            host.goto(f"{server.url}/signin?next=/studio/rooms/{room_id}")
            host.fill("input[name=email]", email)
            host.fill("input[name=password]", PASSWORD)
            host.click("[data-testid=signin-form] button[type=submit]")
            host.wait_for_url(f"**/studio/rooms/{room_id}")
            assert host.get_attribute("[data-testid=stage]", "data-janus") == "true"
            token = pool.submit(asyncio.run, _invite(server, room_id)).result()
            guest = new_context(phone=True, permissions=["camera", "microphone"]).new_page()
            guest.goto(f"{server.url}/stage/join#{token}")
            assert guest.get_attribute("[data-testid=stage-join]", "data-janus") == "true"
            guest.click("[data-testid=stage-join-button]")
            guest.wait_for_selector("[data-testid=stage-join][data-state=live]", timeout=60_000)
            stage_room = videoroom_of(LIVE_SECRET, room_id, STAGE)[0]
            displays = pool.submit(asyncio.run, _stage_in_janus(janus_gateway, stage_room)).result()
            assert len(displays) == 2  # the host and the guest, each published once
            wait_in_page(guest, "document.querySelector('[data-testid=stage-join]').dataset.via === 'janus'", 60_000)
            video = "document.querySelector('[data-testid=stage-host-video]')"
            wait_in_page(guest, f"{video}.videoWidth > 0 && {video}.readyState >= 2", 40_000)
            start = guest.evaluate(f"{video}.currentTime")
            wait_in_page(guest, f"{video}.currentTime > {start} + 1", 40_000)
            guest.screenshot(path=str(artifacts / "guest-stage-janus.png"))

            # the host's console watches the guest through Janus too
            tile = "document.querySelector('[data-testid=stage-guest]')"
            wait_in_page(host, f"{tile} !== null && {tile}.dataset.via === 'janus'", 60_000)
            video = f"{tile}.querySelector('video')"
            wait_in_page(host, f"{video}.videoWidth > 0 && {video}.readyState >= 2", 40_000)
            start = host.evaluate(f"{video}.currentTime")
            wait_in_page(host, f"{video}.currentTime > {start} + 1", 40_000)
            host.screenshot(path=str(artifacts / "console-stage-janus.png"))
            guest.click("[data-testid=stage-leave-button]")
        finally:
            publisher.terminate()
            publisher.wait()
