"""The viewer's room as a phone and a laptop show it, in a real Chromium against a real server process with a
real ffmpeg publishing a PORTRAIT stream (360×640) through the embedded RTMP gate:

- on a 390×844 phone the page never scrolls sideways, the video fills at least 55 % of the screen's height, and
  the newest chat line stays in sight with the product shelf, Q&A or a poll open as a bottom sheet;
- the pinned product card sits above the bottom bar, the bag counts the shelf's items;
- on 1440×900 the video is on the left and the chat on the right;
- axe-core finds no serious or critical accessibility problem on either;
- when the host ends the stream (after confirming), the viewer's page — not reloaded — shows "ended" with the
  replay link, and the chat box and the pinned card are gone;
- a LANDSCAPE stream (640×360) sits on top of the phone's screen, full width at 16:9, with the chat and the bar
  below it, no sideways scroll, the newest line in sight with the shelf or Q&A open; its replay writes the
  room's system line (a coupon drop) in English and in Chinese from the line's catalog key and params.

Screenshots (390×844 and 1440×900) go to the ``screens`` folder (KNOWCAST_SCREENSHOTS=docs/img refreshes the
README's)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import serious_violations
from tests.browser.pages import answer_consent, page_api, sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user, start_server
from tests.media.conftest import FFMPEG, make_room_in, make_sample

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1440, "height": 900}}

# Where the newest chat line is, and whether it can be seen: inside the screen and not under anything else.
NEWEST_LINE = """() => {
  const lines = document.querySelectorAll('#chat-lines li');
  const line = lines[lines.length - 1];
  if (!line) return {seen: false, why: 'no line'};
  const r = line.getBoundingClientRect();
  const x = r.left + Math.min(r.width / 2, 24), y = r.top + r.height / 2;
  const onScreen = r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth && r.height > 0;
  const list = document.getElementById('chat-lines').getBoundingClientRect();
  const inList = r.top >= list.top - 1 && r.bottom <= list.bottom + 1;
  const hit = document.elementFromPoint(x, y);
  return {seen: onScreen && inList && !!hit && line.contains(hit), text: line.textContent, top: r.top, bottom: r.bottom,
          hit: hit ? hit.className || hit.tagName : null};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # a lively room: more lines a second than the flood rule lets one viewer say (tests/interaction covers it)
    app = start_server(
        tmp_path_factory.mktemp("room"), KNOWCAST_MEDIA_RECONNECT_GRACE_SECONDS="8", KNOWCAST_CHAT_BURST="100"
    )
    yield app
    app.stop()


@pytest.fixture(scope="module")
def portrait_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("portrait") / "portrait.flv", size="360x640")


def publish(server: LiveServer, key: str, sample: Path) -> subprocess.Popen[bytes]:
    url = f"rtmp://127.0.0.1:{server.env['KNOWCAST_RTMP_PORT']}/live/{key}"
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(sample)]
    return subprocess.Popen([*args, "-c", "copy", "-f", "flv", url], stdin=subprocess.DEVNULL)


def wait_for(page: Any, expression: str, timeout_ms: int = 30_000) -> None:
    """Poll an expression with evaluate (wait_for_function evaluates strings, which our CSP forbids)."""
    for _ in range(timeout_ms // 200):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(200)
    pytest.fail(f"timed out waiting for {expression}")


def newest_line_seen(page: Any, text: str) -> None:
    expect(page.locator("#chat-lines li").last).to_contain_text(text)
    page.wait_for_timeout(300)  # sheets slide, the list settles at its end
    where = page.evaluate(NEWEST_LINE)
    assert where["seen"], where


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways: {width}px wide"


def say(page: Any, text: str) -> None:
    page.fill("[data-testid=chat-input]", text)
    page.press("[data-testid=chat-input]", "Enter")


def test_the_phone_room_with_a_portrait_stream(
    server: LiveServer, new_context: Any, screens: Path, portrait_flv: Path
) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, host_email = pool.submit(asyncio.run, make_room_in(server)).result()
    create_user(server, "room-viewer@example.com", "viewer", PASSWORD)
    host = new_context(**DESKTOP).new_page()
    sign_in(host, server, host_email)
    course = page_api(
        host,
        "POST",
        "/api/v1/products",
        {"kind": "course", "title": "七天写作训练营：从零到发表第一篇", "price": 19900, "list_price": 29900},
    )
    ebook = page_api(
        host, "POST", "/api/v1/products", {"kind": "file", "title": "写作素材手册（电子书）", "price": 2900}
    )
    for product in (course, ebook):
        assert product["status"] == 201, product
        page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": product["body"]["id"]})
    publisher = publish(server, key, portrait_flv)
    try:
        viewer = new_context(phone=True, bypass_csp=True).new_page()
        sign_in(viewer, server, "room-viewer@example.com")
        viewer.goto(f"{server.url}/rooms/{room_id}", wait_until="domcontentloaded")
        answer_consent(viewer)
        wait_for(viewer, "document.getElementById('stage').dataset.player === 'live'")
        wait_for(viewer, "document.getElementById('player').videoHeight > 0")
        assert viewer.get_attribute("#stage", "data-orientation") == "portrait"
        viewer.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
        # the head says who is live once: the host's name and initial under the title, the LIVE badge by the counts
        expect(viewer.locator(".host-pill .host-name")).to_have_text("Host")
        expect(viewer.locator(".host-pill .avatar")).to_have_text("H")
        expect(viewer.locator("[data-testid=player-live]")).to_be_visible()
        expect(viewer.locator("[data-testid=room-state]")).to_be_hidden()

        assert (
            page_api(host, "POST", f"/api/v1/rooms/{room_id}/pin", {"product_id": course["body"]["id"]})["status"]
            == 200
        )
        # the pin shows when this viewer's video reaches the moment it was made (a few seconds behind the host)
        expect(viewer.locator("[data-testid=pinned-title]")).to_have_text(
            "七天写作训练营：从零到发表第一篇", timeout=20_000
        )
        expect(viewer.locator("[data-testid=shelf-count]")).to_have_text("2")
        for n in range(1, 13):
            say(viewer, f"第 {n} 条：老师讲得真清楚")
        newest_line_seen(viewer, "第 12 条")

        # the phone's layout: full-height video, nothing sideways, the card above the bar and under the chat
        video = viewer.locator("[data-testid=video-area]").bounding_box()
        assert video is not None and video["height"] >= 0.55 * 844, video
        no_sideways_scroll(viewer)
        card = viewer.locator("[data-testid=pinned-card]").bounding_box()
        bar = viewer.locator("[data-testid=room-bar]").bounding_box()
        chat = viewer.locator("[data-testid=chat-lines]").bounding_box()
        assert (
            card
            and bar
            and chat
            and chat["y"] + chat["height"] <= card["y"] + 1
            and card["y"] + card["height"] <= bar["y"] + 1
        )
        assert bar["y"] + bar["height"] <= 844 + 1
        title = viewer.locator("[data-testid=pinned-title]")
        assert title.evaluate("e => e.scrollHeight <= e.clientHeight + 1"), "the pinned title is cut"
        viewer.screenshot(path=str(screens / "room-phone.png"))
        assert serious_violations(viewer) == []

        # each bottom sheet leaves the newest line in sight
        viewer.click("[data-testid=shelf-button]")
        expect(viewer.locator("[data-testid=shelf-item]")).to_have_count(2)
        say_over = viewer.locator("[data-testid=shelf-item]").first
        expect(say_over).to_be_visible()
        newest_line_seen(viewer, "第 12 条")
        no_sideways_scroll(viewer)
        viewer.screenshot(path=str(screens / "room-phone-shelf.png"))
        assert serious_violations(viewer) == []
        viewer.click("[data-testid=shelf-item] .link >> nth=0")
        expect(viewer.locator("[data-testid=product-sheet] h3")).to_contain_text("七天写作训练营")
        colour = viewer.locator("[data-testid=product-sheet] h3").evaluate("e => getComputedStyle(e).color")
        assert colour != "rgb(255, 255, 255)", "the product title is white on the white sheet"
        newest_line_seen(viewer, "第 12 条")
        viewer.click("[data-testid=shop-sheet] [data-close]")
        expect(viewer.locator("[data-testid=shop-sheet]")).to_be_hidden()

        viewer.click("[data-testid=open-qa]")
        expect(viewer.locator("[data-testid=qa-sheet]")).to_be_visible()
        viewer.fill("[data-testid=qa-input]", "有回放吗？")
        viewer.press("[data-testid=qa-input]", "Enter")
        expect(viewer.locator("[data-testid=questions] li")).to_have_count(1)
        newest_line_seen(viewer, "第 12 条")
        viewer.keyboard.press("Escape")
        expect(viewer.locator("[data-testid=qa-sheet]")).to_be_hidden()

        poll = {"question": "下节课讲什么？", "options": ["开头怎么写", "怎么投稿"]}
        assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/polls", poll)["status"] == 201
        expect(viewer.locator("[data-testid=poll-sheet]")).to_be_visible()  # a new poll pops up once
        viewer.click("[data-testid=poll-option-0]")
        expect(viewer.locator("[data-testid=poll-card] small")).to_contain_text("1")
        say(viewer, "第 13 条：我选开头")
        newest_line_seen(viewer, "第 13 条")
        viewer.screenshot(path=str(screens / "room-phone-poll.png"))
        assert serious_violations(viewer) == []

        # a system line, written from the event's data in each viewer's language (not the server's Chinese text)
        english = new_context(locale="en-US", bypass_csp=True, **DESKTOP).new_page()
        english.goto(f"{server.url}/rooms/{room_id}", wait_until="domcontentloaded")
        wait_for(english, "document.documentElement.dataset.live === 'joined'")
        ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        coupon = page_api(
            host, "POST", "/api/v1/coupons", {"code": "WRITE20", "kind": "fixed", "value": 2000, "ends_at": ends}
        )
        drop = page_api(
            host, "POST", f"/api/v1/rooms/{room_id}/coupon-drops", {"coupon_id": coupon["body"]["id"], "quantity": 3}
        )
        assert drop["status"] == 201, drop
        expect(viewer.locator("#chat-lines li.system").last).to_have_text("主播发券啦，共 3 张，先到先得！")
        expect(english.locator("#chat-lines li.system").last).to_have_text(
            "Coupon drop: 3 coupons to claim, first come first served!"
        )
        expect(english.locator("[data-testid=poll-card] small")).to_have_text("1 vote")  # not "1 votes"
        said = english.locator("#chat-lines .chat-name").last.evaluate("e => e.textContent")
        assert said == "room-viewer: ", said  # an English colon; the Chinese page writes "room-viewer："
        assert viewer.locator("#chat-lines .chat-name").last.evaluate("e => e.textContent") == "room-viewer："
        # the FAQ's auto-reply is a system line too: each page writes it from its catalog key and params
        faq = page_api(host, "POST", "/api/v1/faq", {"keywords": ["有回放吗"], "answer": "有，结束后就能看"})
        assert faq["status"] == 201, faq
        say(viewer, "老师有回放吗")
        expect(english.locator("#chat-lines li.system").last).to_have_text(
            "[Auto-reply] @room-viewer: 有，结束后就能看", timeout=20_000
        )
        expect(viewer.locator("#chat-lines li.system").last).to_have_text("[自动回复] @room-viewer: 有，结束后就能看")
        english.close()

        # a laptop: video left, chat right
        desk = new_context(bypass_csp=True, **DESKTOP).new_page()
        sign_in(desk, server, "room-viewer@example.com")
        desk.goto(f"{server.url}/rooms/{room_id}", wait_until="domcontentloaded")
        wait_for(desk, "document.getElementById('stage').dataset.player === 'live'")
        expect(desk.locator("#chat-lines li").last).to_contain_text("自动回复")  # a late joiner gets the history
        video = desk.locator("[data-testid=video-area]").bounding_box()
        chat = desk.locator("[data-testid=chat-area]").bounding_box()
        assert video and chat and chat["x"] >= video["x"] + video["width"] - 1 and video["width"] > 900
        no_sideways_scroll(desk)
        unmute = desk.locator("[data-unmute]")
        if unmute.is_visible():  # muted autoplay: a pill at the video's lower left, not a bar across the video
            pill = unmute.bounding_box()
            assert pill and pill["width"] < 300, pill
        desk.screenshot(path=str(screens / "room-desktop.png"))
        assert serious_violations(desk) == []

        # the host ends the stream, after confirming
        host.goto(f"{server.url}/studio/rooms/{room_id}")
        host.click("[data-testid=to-ended]")
        expect(host.locator("[data-testid=confirm-end]")).to_be_visible()
        assert (
            viewer.get_attribute("#stage", "data-state") != "ended"
        )  # opening the question ends nothing (the page keeps the state it was loaded in until the end)
        host.click("[data-testid=confirm-end]")
        expect(viewer.locator("#stage")).to_have_attribute("data-state", "ended", timeout=10_000)
        expect(viewer.locator("[data-testid=player-ended]")).to_be_visible()
        expect(viewer.locator("[data-testid=room-state]")).to_have_text("已结束")
        expect(viewer.locator("[data-testid=room-state]")).to_be_visible()
        expect(viewer.locator("#chat-form")).to_be_hidden()
        expect(viewer.locator("[data-testid=pinned-card]")).to_be_hidden()
        expect(viewer.locator("[data-testid=poll-sheet]")).to_be_hidden()
        expect(viewer.locator("[data-testid=chat-closed]")).to_be_visible()
        expect(viewer.locator("[data-testid=replay-link]")).to_be_visible(timeout=30_000)
        assert viewer.evaluate("window.__sameDocument === true"), "the page was reloaded"
        viewer.screenshot(path=str(screens / "room-phone-ended.png"))
        assert serious_violations(viewer) == []
    finally:
        publisher.terminate()
        publisher.wait(10)


@pytest.fixture(scope="module")
def landscape_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("landscape") / "landscape.flv", size="640x360")


def test_the_phone_room_with_a_landscape_stream_and_its_replay(
    server: LiveServer, new_context: Any, screens: Path, landscape_flv: Path
) -> None:
    """A landscape stream sits on top of the phone's screen with the room below it; the replay afterwards writes
    its system lines in each viewer's language from their catalog key and params (not the stored text)."""
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        room_id, key, host_email = pool.submit(asyncio.run, make_room_in(server)).result()
    create_user(server, "landscape-viewer@example.com", "viewer", PASSWORD)
    host = new_context(**DESKTOP).new_page()
    sign_in(host, server, host_email)
    course = page_api(
        host, "POST", "/api/v1/products", {"kind": "course", "title": "横屏课：镜头前怎么讲", "price": 9900}
    )
    assert course["status"] == 201, course
    page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": course["body"]["id"]})
    publisher = publish(server, key, landscape_flv)
    try:
        viewer = new_context(phone=True, bypass_csp=True).new_page()
        sign_in(viewer, server, "landscape-viewer@example.com")
        viewer.goto(f"{server.url}/rooms/{room_id}", wait_until="domcontentloaded")
        answer_consent(viewer)
        wait_for(viewer, "document.getElementById('stage').dataset.player === 'live'")
        wait_for(viewer, "document.getElementById('player').videoWidth > 0")
        assert viewer.get_attribute("#stage", "data-orientation") == "landscape"
        for n in range(1, 13):
            say(viewer, f"横屏第 {n} 条")
        newest_line_seen(viewer, "横屏第 12 条")

        # the video on top, the whole width, 16:9; the chat below it, not over it; the bar at the bottom
        video = viewer.locator("[data-testid=video-area]").bounding_box()
        chat = viewer.locator("[data-testid=chat-lines]").bounding_box()
        bar = viewer.locator("[data-testid=room-bar]").bounding_box()
        assert video and chat and bar, (video, chat, bar)
        assert video["y"] < 844 * 0.2 and video["width"] >= 390 - 1, video
        assert abs(video["height"] - video["width"] * 9 / 16) <= 2, video
        assert chat["y"] >= video["y"] + video["height"] - 1, (chat, video)
        assert chat["y"] + chat["height"] <= bar["y"] + 1 and bar["y"] + bar["height"] <= 844 + 1, (chat, bar)
        picture = viewer.locator("#player").evaluate("v => [v.videoWidth, v.videoHeight]")
        assert picture == [640, 360]
        no_sideways_scroll(viewer)
        viewer.screenshot(path=str(screens / "room-phone-landscape.png"))
        assert serious_violations(viewer) == []

        # sheets open below the video and still leave the newest line in sight
        viewer.click("[data-testid=shelf-button]")
        expect(viewer.locator("[data-testid=shelf-item]")).to_have_count(1)
        newest_line_seen(viewer, "横屏第 12 条")
        no_sideways_scroll(viewer)
        viewer.screenshot(path=str(screens / "room-phone-landscape-shelf.png"))
        viewer.click("[data-testid=shop-sheet] [data-close]")
        expect(viewer.locator("[data-testid=shop-sheet]")).to_be_hidden()
        viewer.click("[data-testid=open-qa]")
        expect(viewer.locator("[data-testid=qa-sheet]")).to_be_visible()
        viewer.fill("[data-testid=qa-input]", "横屏能回放吗？")
        viewer.press("[data-testid=qa-input]", "Enter")
        expect(viewer.locator("[data-testid=questions] li")).to_have_count(1)
        say(viewer, "横屏第 13 条")
        newest_line_seen(viewer, "横屏第 13 条")
        no_sideways_scroll(viewer)
        viewer.keyboard.press("Escape")
        expect(viewer.locator("[data-testid=qa-sheet]")).to_be_hidden()

        # a system line for the replay: a coupon drop (catalog key shop.system.drop, params {count})
        ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        coupon = page_api(
            host, "POST", "/api/v1/coupons", {"code": "LAND10", "kind": "fixed", "value": 1000, "ends_at": ends}
        )
        drop = page_api(
            host, "POST", f"/api/v1/rooms/{room_id}/coupon-drops", {"coupon_id": coupon["body"]["id"], "quantity": 1}
        )
        assert drop["status"] == 201, drop
        expect(viewer.locator("#chat-lines li.system").last).to_have_text(
            "主播发券啦，共 1 张，先到先得！", timeout=20_000
        )
        viewer.wait_for_timeout(5_000)  # a few more seconds of video after the drop, so the replay reaches it
        ended = page_api(host, "POST", f"/api/v1/rooms/{room_id}/transitions", {"to": "ended"})
        assert ended["status"] == 200, ended
    finally:
        publisher.terminate()
        publisher.wait(10)

    for locale, drop_line in (
        ("en-US", "Coupon drop: 1 coupon to claim, first come first served!"),
        ("zh-CN", "主播发券啦，共 1 张，先到先得！"),
    ):
        page = new_context(phone=True, locale=locale, bypass_csp=True).new_page()
        page.goto(f"{server.url}/rooms/{room_id}/replay", wait_until="domcontentloaded")
        wait_for(page, "document.getElementById('replay-video').duration > 1")
        page.locator("#replay-video").evaluate("v => { v.currentTime = Math.max(0, v.duration - 0.5); v.play(); }")
        line = page.locator("[data-testid=replay-chat] li.system").last
        expect(line).to_have_text(drop_line, timeout=30_000)
        expect(page.locator("[data-testid=replay-chat] li.chat").last).to_contain_text("横屏第 13 条")
        no_sideways_scroll(page)
        page.screenshot(path=str(screens / f"replay-phone-{locale}.png"))
