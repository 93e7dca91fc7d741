"""A pin appears on a viewer's screen in step with their video, in a real Chromium playing a real ffmpeg live
stream from a real server process: a pin made for program time T is not shown while the viewer's video is
before T, and is shown once it reaches T. Then a pin without a time takes the stream's program clock, which the
viewer — a few seconds behind live — reaches a moment later. And a viewer in a price experiment's variant sees
that price on the pinned card and the shelf (which follows the shelf's changes) and pays it at checkout.

Everything is compared on the stream's program clock (what hls.js's ``playingDate`` reports on the page), not
on wall-clock time; the waits are generous bounds only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from knowcast import csrf
from tests.browser.conftest import artifacts, browser, new_context  # noqa: F401  (browser fixtures)
from tests.conftest import PASSWORD
from tests.live_server import SECRET, LiveServer, start_server
from tests.media.conftest import make_room_in, publish_flv, sample_flv, wait_in_page  # noqa: F401  (sample_flv is a fixture)

pytestmark = pytest.mark.browser
LEAD = 6  # seconds of program time between "now on the viewer's screen" and the pin

# Records, per pinned product, the viewer's program date when the pin event arrived and when the card showed it.
WATCH = """() => {
  const card = document.getElementById("pinned-card");
  const now = () => { const d = window.knowcast.player.programDate(); return d ? d.getTime() : null; };
  const showing = (id) => !card.hidden && card.dataset.productId === String(id);
  window.__pins = {};
  document.addEventListener("knowcast:event", ({ detail }) => {
    if (!detail || detail.name !== "shelf.pinned" || detail.replay) return;
    const id = detail.data.product.id;
    window.__pins[id] = { at: Date.parse(detail.data.program_time), heard: now(), shownOnArrival: showing(id) };
  });
  new MutationObserver(() => {
    for (const [id, pin] of Object.entries(window.__pins)) {
      if (pin.shown === undefined && showing(id)) pin.shown = now();
    }
  }).observe(card, { attributes: true, attributeFilter: ["hidden", "data-product-id"] });
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # HLS for every viewer: this is the HLS program clock's test (a WebRTC viewer's clock is "now",
    # tests/media/test_player_webrtc_browser.py)
    app = start_server(tmp_path_factory.mktemp("pins"), KNOWCAST_WEBRTC_MAX_VIEWERS="0")
    yield app
    app.stop()


def _host_api(server: LiveServer, email: str) -> httpx.Client:
    nonce = csrf.new_nonce()
    headers = {"x-csrf-token": csrf.token_for(SECRET, nonce)}
    client = httpx.Client(base_url=server.url, cookies={csrf.COOKIE: nonce}, headers=headers, timeout=30)
    signin = client.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD})
    assert signin.status_code == 200, signin.text
    return client


def _shelved(api: httpx.Client, room_id: int, title: str) -> int:
    product = api.post("/api/v1/products", json={"kind": "item", "title": title, "price": 1990})
    assert product.status_code == 201, product.text
    assert api.post(f"/api/v1/rooms/{room_id}/shelf", json={"product_id": product.json()["id"]}).status_code == 201
    return int(product.json()["id"])


def _pin(api: httpx.Client, room_id: int, product_id: int, at: datetime | None = None) -> None:
    body: dict[str, Any] = {"product_id": product_id}
    if at is not None:
        body["program_time"] = at.isoformat()
    response = api.post(f"/api/v1/rooms/{room_id}/pin", json=body)
    assert response.status_code == 200, response.text


def _pin_record(page: Any, product_id: int, key: str, timeout_ms: int) -> dict[str, Any]:
    wait_in_page(page, f"window.__pins[{product_id}] && window.__pins[{product_id}].{key} !== undefined", timeout_ms)
    record: dict[str, Any] = page.evaluate(f"window.__pins[{product_id}]")
    return record


def test_a_pin_shows_when_the_viewers_video_reaches_its_program_time(
    server: LiveServer,
    new_context: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
    sample_flv: Path,  # noqa: F811
) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, email = pool.submit(asyncio.run, make_room_in(server)).result()
    api = _host_api(server, email)
    timed, untimed = _shelved(api, room_id, "理财课"), _shelved(api, room_id, "预算表")
    publisher = publish_flv(server, key, sample_flv)
    try:
        page = new_context(phone=True).new_page()
        page.goto(f"{server.url}/rooms/{room_id}")
        wait_in_page(page, "window.knowcast && window.knowcast.player && window.knowcast.player.programDate() !== null")
        wait_in_page(page, "document.documentElement.dataset.live === 'joined'")
        page.evaluate(WATCH)
        assert page.is_hidden("[data-testid=pinned-card]")

        # a pin for LEAD seconds after what the viewer is watching now
        watching = datetime.fromtimestamp(page.evaluate("window.knowcast.player.programDate().getTime()") / 1000, UTC)
        _pin(api, room_id, timed, watching + timedelta(seconds=LEAD))
        record = _pin_record(page, timed, "heard", 15_000)
        assert record["heard"] < record["at"] and not record["shownOnArrival"]  # the video is not there yet
        assert page.is_hidden("[data-testid=pinned-card]")
        page.screenshot(path=str(artifacts / "before-the-pin.png"))
        record = _pin_record(page, timed, "shown", 60_000)
        assert record["shown"] >= record["at"]  # shown once the video reached the pin, not before
        assert page.text_content("[data-testid=pinned-title]") == "理财课"
        page.screenshot(path=str(artifacts / "pinned.png"))

        # without a time, the pin takes the stream's program clock: ahead of this viewer, who is behind live
        _pin(api, room_id, untimed)
        record = _pin_record(page, untimed, "heard", 15_000)
        assert record["heard"] < record["at"] and not record["shownOnArrival"]
        assert page.text_content("[data-testid=pinned-title]") == "理财课"  # the earlier pin stays until then
        record = _pin_record(page, untimed, "shown", 60_000)
        assert record["shown"] >= record["at"]
        assert page.text_content("[data-testid=pinned-title]") == "预算表"
    finally:
        publisher.terminate()
        publisher.wait(10)
        api.close()


def _variant_b_for(api: httpx.Client, room_id: int, visitor: str, payload: dict[str, Any]) -> str:
    """A price experiment in which this visitor is assigned variant B (new experiments until the hash says so)."""
    from knowcast.analytics.experiments import bucket

    for _ in range(20):
        variants = [{"key": "A", "payload": {}}, {"key": "B", "payload": payload}]
        body = {"name": "price", "subject": "price", "room_id": room_id, "variants": variants}
        made = api.post("/api/v1/analytics/experiments", json=body)
        assert made.status_code == 201, made.text
        if bucket(SECRET, made.json()["key"], visitor) >= 0.5:  # weights 1:1, B is the upper half
            return str(made.json()["key"])
        api.post(f"/api/v1/analytics/experiments/{made.json()['id']}/stop")
    raise AssertionError("the hash never picked B")


def test_a_viewer_in_a_price_variant_sees_and_pays_it_in_the_room(
    server: LiveServer,
    new_context: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    from tests.live_server import create_user

    with ThreadPoolExecutor(1) as pool:
        room_id, _key, email = pool.submit(asyncio.run, make_room_in(server)).result()
    host = _host_api(server, email)
    product = _shelved(host, room_id, "理财课")
    create_user(server, "variant-b@example.com", "viewer", PASSWORD)
    viewer_api = _host_api(server, "variant-b@example.com")
    viewer_id = viewer_api.get("/api/v1/auth/me").json()["user"]["id"]
    _variant_b_for(host, room_id, f"u:{viewer_id}", {"product_id": product, "price": 990})

    context = new_context(phone=True)
    cookies = [{"name": k, "value": v, "url": server.url} for k, v in viewer_api.cookies.items()]
    context.add_cookies([*cookies, {"name": "kc_consent", "value": "analytics", "url": server.url}])
    page = context.new_page()
    page.goto(f"{server.url}/rooms/{room_id}")
    wait_in_page(page, "document.documentElement.dataset.live === 'joined'")
    _pin(host, room_id, product)  # no video: shown at once
    page.wait_for_selector("[data-testid=pinned-title]")
    assert "¥9.90" in page.text_content("[data-testid=pinned-card]")
    _shelved(host, room_id, "预算表")  # the shelf changes: the page reloads its own prices
    page.click("[data-testid=shelf-button]")
    page.wait_for_selector("[data-testid=shelf-item] >> text=预算表")
    first = page.locator("[data-testid=shelf-item]", has_text="理财课")
    assert "¥9.90" in first.text_content()
    page.screenshot(path=str(artifacts / "variant-b-shelf.png"))
    page.click("[data-close]")
    page.click("[data-testid=pinned-buy]")
    page.wait_for_selector("[data-testid=checkout]")
    assert page.text_content("[data-testid=checkout-total]") == "¥9.90"
    page.screenshot(path=str(artifacts / "variant-b-checkout.png"))
    host.close()
    viewer_api.close()
