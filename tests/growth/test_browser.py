"""In a real Chromium against a real server process:

- a viewer books a reminder, the host goes live, the reminder mail arrives at a real local SMTP server
  (aiosmtpd) and its link opens the live room;
- the embeddable room loads inside a page on another origin the owner allowed, is refused by the browser on an
  origin the owner did not allow (the frame-ancestors header), and buying from the embed works (the buy link
  opens this site's first-party buy page in a new tab).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser.pages import page_api, sign_in
from tests.conftest import PASSWORD
from tests.growth.conftest import SmtpServer
from tests.live_server import LiveServer, create_user, free_port, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp_server: SmtpServer) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("growth"),
        KNOWCAST_SMTP_HOST="127.0.0.1",
        KNOWCAST_SMTP_PORT=str(smtp_server.port),
        KNOWCAST_MAIL_POLL_SECONDS="0.5",
    )
    yield live
    live.stop()


def wait_until(page: Any, check: Any, what: str, timeout_ms: int = 30_000) -> Any:
    for _ in range(timeout_ms // 200):
        result = check()
        if result:
            return result
        page.wait_for_timeout(200)
    pytest.fail(f"timed out waiting for {what}")


def create_room(page: Any, title: str) -> int:
    when = "2030-01-01T12:00:00+00:00"
    created = page_api(page, "POST", "/api/v1/rooms", {"title": title, "scheduled_at": when})
    assert created["status"] == 201, created
    return int(created["body"]["id"])


def test_reminder_mail_link_opens_the_live_room(
    server: LiveServer, smtp_server: SmtpServer, new_context: Any, artifacts: Path
) -> None:
    create_user(server, "booker@example.com", "viewer", PASSWORD)
    create_user(server, "anchor@example.com", "host", PASSWORD)
    host = new_context().new_page()
    sign_in(host, server, "anchor@example.com", consent=None)
    room_id = create_room(host, "周末理财直播")

    viewer = new_context(phone=True).new_page()
    sign_in(viewer, server, "booker@example.com", consent=None)
    viewer.goto(f"{server.url}/rooms/{room_id}")
    viewer.click("[data-testid=remind-me]")
    viewer.wait_for_selector("[data-testid=remind-me][data-booked=true]")
    assert "1" in viewer.inner_text("[data-testid=reminder-count]")

    host.goto(f"{server.url}/studio/rooms/{room_id}#tab-data")
    wait_until(host, lambda: host.inner_text("[data-testid=console-reminder-count]") == "1", "the reminder count")
    host.click("[data-testid=to-live]")
    host.wait_for_selector("[data-testid=console-state]:has-text('直播中')")

    mails = wait_until(viewer, lambda: smtp_server.inbox.to("booker@example.com"), "the reminder mail")
    body = mails[0].get_content()
    link = re.search(r"https?://\S+", body)
    assert link is not None, body
    viewer.goto(link.group(0))
    assert viewer.inner_text("[data-testid=room-state]") == "直播中"
    assert viewer.inner_text("[data-testid=room-title]") == "周末理财直播"
    assert "utm_source=reminder" in viewer.url
    viewer.wait_for_selector("[data-testid=notification-badge]:not([hidden])")
    assert viewer.inner_text("[data-testid=notification-badge]") == "1"
    viewer.screenshot(path=str(artifacts / "reminder-opened.png"), full_page=True)


class HostSite:
    """Another website (another origin: its own port) whose page puts the room's embed code in an iframe."""

    def __init__(self, embed_url: str) -> None:
        frame = f'<iframe id="kc" src="{embed_url}" width="400" height="600"></iframe>'
        page = f"<!doctype html><title>blog</title><h1>My blog</h1>{frame}"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def embedded(page: Any) -> bool:
    """Whether the iframe shows our embed page (a frame refused by frame-ancestors shows Chromium's error page)."""
    frame = page.frame_locator("#kc")
    return frame.locator("[data-testid=embed]").count() == 1


def test_embed_is_blocked_unless_the_owner_allowed_the_site(
    server: LiveServer, new_context: Any, artifacts: Path
) -> None:
    create_user(server, "owner@example.com", "owner", PASSWORD)
    create_user(server, "buyer@example.com", "viewer", PASSWORD)
    owner = new_context().new_page()
    sign_in(owner, server, "owner@example.com", consent=None)
    room_id = create_room(owner, "嵌入测试")
    product = page_api(owner, "POST", "/api/v1/products", {"kind": "item", "title": "预算手册", "price": 1990})["body"]
    assert page_api(owner, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": product["id"]})["status"] == 201
    embed_url = f"{server.url}/embed/rooms/{room_id}"
    allowed, stranger = HostSite(embed_url), HostSite(embed_url)
    try:
        assert page_api(owner, "POST", "/api/v1/embed/sites", {"origin": allowed.url})["status"] == 201

        visitor = new_context().new_page()
        console: list[str] = []
        visitor.on("console", lambda message: console.append(message.text))
        visitor.goto(stranger.url)
        refused = lambda: any("frame-ancestors" in text for text in console)  # noqa: E731
        wait_until(visitor, refused, "Chromium refusing the frame")  # the browser's own report of the block
        assert not embedded(visitor)
        visitor.screenshot(path=str(artifacts / "embed-blocked.png"))

        visitor.goto(allowed.url)
        wait_until(visitor, lambda: embedded(visitor), "the embedded room")
        frame = visitor.frame_locator("#kc")
        assert frame.locator("[data-testid=embed-title]").inner_text() == "嵌入测试"
        visitor.screenshot(path=str(artifacts / "embed-allowed.png"))

        with visitor.context.expect_page() as popup_info:
            frame.locator("[data-testid=embed-buy-link]").click()
        shop = popup_info.value
        shop.wait_for_load_state()
        assert "/signin" in shop.url  # a first-party tab: sign in there, then buy
        buy_path = f"/embed/rooms/{room_id}/buy/{product['id']}"
        shop.fill("input[name=email]", "buyer@example.com")
        shop.fill("input[name=password]", PASSWORD)
        shop.click("[data-testid=signin-form] button[type=submit]")
        shop.wait_for_url(f"{server.url}{buy_path}")
        shop.click("[data-testid=buy-pay]")
        shop.wait_for_selector("[data-testid=checkout]")  # our checkout page: coupon, pay method, hold time
        assert "19.90" in shop.inner_text("[data-testid=checkout-total]")
    finally:
        allowed.close()
        stranger.close()
