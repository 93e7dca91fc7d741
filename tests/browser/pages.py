"""Helpers for driving our pages in Chromium, shared by every browser test: signing in, answering the privacy
banner, creating a room from the studio, and same-origin API calls from a page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from tests.conftest import PASSWORD
from tests.live_server import LiveServer

Consent = Literal["deny", "allow"] | None

FETCH = """async ([method, path, body]) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const headers = {"Accept": "application/json", "X-CSRF-Token": token, "Content-Type": "application/json"};
  const r = await fetch(path, {method, headers, body: body === null ? undefined : JSON.stringify(body)});
  return {status: r.status, body: await r.json().catch(() => null)};
}"""


def page_api(page: Any, method: str, path: str, body: Any = None) -> Any:
    """A same-origin JSON call from the page with its CSRF token, as our own modules make them:
    ``{"status", "body"}``."""
    return page.evaluate(FETCH, [method, path, body])


def sign_in(page: Any, server: LiveServer, email: str, *, then: str | None = None, consent: Consent = "deny") -> None:
    """Sign in through the form (the account was made with ``PASSWORD``) and land on ``then`` (default the home
    page); then answer the privacy banner, if it shows, with ``consent`` (None leaves it for the test)."""
    page.goto(f"{server.url}/signin" + (f"?next={then}" if then else ""))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=signin-form] button[type=submit]")
    page.wait_for_url(f"{server.url}{then or '/'}")
    if consent == "deny":
        answer_consent(page)
    elif consent == "allow" and page.locator("[data-testid=consent-allow]").count():
        page.click("[data-testid=consent-allow]")
        page.wait_for_selector("[data-testid=consent-banner]", state="detached")


def answer_consent(page: Any) -> None:
    """The privacy banner covers the bottom of a phone screen until it is answered (here: declined)."""
    banner = page.locator("[data-testid=consent-deny]")
    if banner.count():
        with page.expect_navigation():
            banner.click()


def create_room(host: Any, server: LiveServer) -> str:
    """A room an hour from now, made from the studio's form by a signed-in host; its id."""
    host.goto(f"{server.url}/studio/rooms/new")
    host.fill("[data-testid=room-title-input]", "实时互动测试")
    host.fill("input[name=scheduled_at]", (datetime.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    host.click("[data-testid=room-form] button[type=submit]")
    host.wait_for_selector("[data-testid=console]")
    return str(host.get_attribute("[data-testid=console]", "data-room-id"))
