"""In a real Chromium against a real server process: two viewers chat in one room, likes and the viewer count
reach both, and a line the host hides from the console disappears from both screens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import answer_consent, create_room, sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser


def chat_line(page: Any, text: str) -> Any:
    return page.locator("[data-testid=chat-lines] li", has_text=text)


def test_two_viewers_chat_and_a_hidden_line_disappears_from_both(
    live_server: LiveServer, new_context: Any, artifacts: Path
) -> None:
    for email, role in (
        ("rt-host@example.com", "host"),
        ("alice@example.com", "viewer"),
        ("bob@example.com", "viewer"),
    ):
        create_user(live_server, email, role, PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, "rt-host@example.com")
    room_id = create_room(host, live_server)
    alice, bob = new_context(phone=True).new_page(), new_context().new_page()
    for page, email in ((alice, "alice@example.com"), (bob, "bob@example.com")):
        sign_in(page, live_server, email)
        page.goto(f"{live_server.url}/rooms/{room_id}")
        answer_consent(page)
        page.wait_for_selector("[data-testid=chat-input]:not([disabled])")

    alice.fill("[data-testid=chat-input]", "大家好，我是 Alice")
    alice.click("[data-testid=chat-send]")
    chat_line(bob, "大家好，我是 Alice").wait_for()
    chat_line(alice, "大家好，我是 Alice").wait_for()
    bob.fill("[data-testid=chat-input]", "你好 Alice，广告链接 xxx")
    bob.press("[data-testid=chat-input]", "Enter")
    chat_line(alice, "广告链接").wait_for()

    for _ in range(3):
        bob.click("[data-testid=like-button]")
    expect(alice.locator("[data-testid=like-count]")).to_have_text("3")

    host.goto(f"{live_server.url}/studio/rooms/{room_id}#tab-interaction")
    answer_consent(host)
    line = host.locator("[data-testid=console-chat-lines] li", has_text="广告链接")
    line.locator("[data-testid=hide-message]").click()
    chat_line(alice, "广告链接").wait_for(state="detached")
    chat_line(bob, "广告链接").wait_for(state="detached")
    assert chat_line(alice, "大家好，我是 Alice").count() == 1  # only the hidden line went
    assert chat_line(bob, "大家好，我是 Alice").count() == 1
    expect(alice.locator("[data-testid=viewer-count]")).to_have_text(re.compile(r"^([2-9]|\d\d+)$"))
    assert alice.evaluate("document.documentElement.scrollWidth") <= 390
    alice.screenshot(path=str(artifacts / "room-live-phone.png"), full_page=True)
    host.screenshot(path=str(artifacts / "console-live.png"), full_page=True)


def test_bus_events_reach_the_page_as_dom_events(live_server: LiveServer, new_context: Any) -> None:
    create_user(live_server, "rt-host2@example.com", "host", PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, "rt-host2@example.com")
    room_id = create_room(host, live_server)
    viewer = new_context().new_page()
    viewer.goto(f"{live_server.url}/rooms/{room_id}")
    answer_consent(viewer)
    viewer.wait_for_selector("html[data-live=joined]", state="attached")
    assert viewer.evaluate("typeof window.knowcast.live.send") == "function"
    viewer.evaluate(
        """() => document.addEventListener("knowcast:event", (e) => {
            const mark = document.createElement("i");
            mark.className = "seen-event";
            mark.dataset.name = e.detail.name;
            mark.dataset.room = e.detail.data.room_id;
            document.body.append(mark);
        })"""
    )
    host.goto(f"{live_server.url}/studio/rooms/{room_id}#tab-interaction")
    answer_consent(host)
    host.fill("[data-testid=poll-form] input[name=question]", "下节课讲什么？")
    host.fill("[data-testid=poll-form] textarea[name=options]", "基金\n股票")
    host.click("[data-testid=poll-form] button[type=submit]")
    viewer.wait_for_selector(f"i.seen-event[data-name='poll.opened'][data-room='{room_id}']", state="attached")
    viewer.wait_for_selector("[data-testid=poll-card]:has-text('下节课讲什么？')")
