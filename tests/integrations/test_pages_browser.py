"""In a real Chromium on a phone: the owner makes an API token and a webhook endpoint, sends a test event to a
real receiver, and reads the delivery log; the pages fit the phone's width."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.browser.conftest import artifacts, browser, live_server, new_context  # noqa: F401  # fixtures
from tests.browser.pages import sign_in
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser


class _Hooks(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"thanks")

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def hooks() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP receiver in a thread (the browser test is synchronous)."""
    _Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", _Hooks.received
    server.shutdown()
    server.server_close()


def test_owner_sets_up_a_token_and_a_webhook_on_a_phone(
    live_server: LiveServer,  # noqa: F811
    new_context: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
    hooks: tuple[str, list[dict[str, str]]],
) -> None:
    url, received = hooks
    create_user(live_server, "owner-int@example.com", "owner")
    page = new_context(phone=True).new_page()
    sign_in(page, live_server, "owner-int@example.com", consent=None)
    deny = page.locator("[data-testid=consent-deny]")  # the privacy banner covers a phone's lower half
    if deny.count():
        with page.expect_navigation():
            deny.click()

    page.goto(f"{live_server.url}/studio")
    page.click("[data-testid=studio-tokens]")
    page.fill("[data-testid=token-form] input[name=name]", "OBS 自动开播")
    page.check("[data-testid=token-form] input[value='rooms:write']")
    page.click("[data-testid=token-form] button[type=submit]")
    token = page.input_value("[data-testid=new-token] input")
    assert token.startswith("kct_")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    me = httpx.post(f"{live_server.url}/api/v1/rooms", headers={"authorization": f"Bearer {token}"}, json={})
    assert me.status_code == 422  # authenticated and scoped: only the empty body is wrong

    page.click("[data-testid=nav-webhooks]")
    page.fill("[data-testid=endpoint-form] input[name=url]", url)
    page.check("[data-testid=endpoint-form] input[value='room.live']")
    page.click("[data-testid=endpoint-form] button[type=submit]")
    assert page.input_value("[data-testid=endpoint-secret] input").startswith("whsec_")
    page.click("[data-testid=ping]")
    page.wait_for_selector("text=测试事件正在发送")
    for _ in range(50):
        if page.locator("[data-testid=delivery-row][data-status=succeeded]").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    assert page.locator("[data-testid=delivery-row][data-status=succeeded]").count() == 1
    assert "已送达" in page.inner_text("[data-testid=deliveries]")
    assert [r["knowcast-event"] for r in received] == ["webhook.ping"]
    assert received[0]["knowcast-signature"].startswith("t=")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "webhook-phone.png"), full_page=True)
