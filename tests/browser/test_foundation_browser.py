"""In a real Chromium: a visitor signs up, a host creates a room, and a viewer opens it on a phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.pages import sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser


def test_sign_up_create_a_room_and_watch_it(live_server: LiveServer, new_context: Any, artifacts: Path) -> None:
    visitor = new_context(phone=True).new_page()
    visitor.goto(f"{live_server.url}/signup")
    visitor.fill("input[name=display_name]", "小红")
    visitor.fill("input[name=email]", "xiaohong@example.com")
    visitor.fill("input[name=password]", PASSWORD)
    visitor.click("[data-testid=signup-form] button[type=submit]")
    visitor.wait_for_url(f"{live_server.url}/")
    assert visitor.inner_text("[data-testid=nav-account]") == "小红"

    create_user(live_server, "host@example.com", "host", PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, "host@example.com", consent=None)
    host.click("[data-testid=nav-studio]")
    host.click("[data-testid=new-room]")
    host.fill("[data-testid=room-title-input]", "<b>理财第一课</b>")
    start = (datetime.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    host.fill("input[name=scheduled_at]", start)
    host.click("[data-testid=room-form] button[type=submit]")
    host.wait_for_selector("[data-testid=console]")
    room_id = host.get_attribute("[data-testid=console]", "data-room-id")
    host.click("[data-testid=to-live]")
    host.wait_for_selector("[data-testid=console-state]:has-text('直播中')")

    visitor.goto(f"{live_server.url}/")
    visitor.click(f"[data-testid=section-live] a[href='/rooms/{room_id}']")
    visitor.wait_for_url(f"{live_server.url}/rooms/{room_id}")
    assert visitor.inner_text("[data-testid=room-title]") == "<b>理财第一课</b>"  # shown as text, not markup
    assert visitor.inner_text("[data-testid=room-state]") == "直播中"
    for area in ("video-area", "chat-area", "product-area"):
        box = visitor.locator(f"[data-testid={area}]").bounding_box()
        assert box is not None and box["width"] <= 390, area  # fits the phone's width
    assert visitor.evaluate("document.documentElement.scrollWidth") <= 390
    visitor.screenshot(path=str(artifacts / "room-phone.png"), full_page=True)


def test_language_follows_the_browser_and_the_switch(live_server: LiveServer, new_context: Any) -> None:
    page = new_context(locale="en-US").new_page()
    page.goto(live_server.url + "/")
    assert page.get_attribute("html", "lang") == "en"
    page.click("[data-testid=switch-locale]")
    page.wait_for_selector("html[lang=zh-CN]")
    assert "正在直播" in page.inner_text("main")
