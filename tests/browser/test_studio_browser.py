"""In a real Chromium against a real server: a host builds a course in the studio's product library (cover, a
video upload, a text lesson, a link, a drip-released lesson, reordered), shelves it in a room; a buyer pays for
it on the sandbox's hosted page and learns it on the course page, where the drip lesson stays locked. axe-core
checks each page; screenshots at 1440×900 and 390×844 land in test-results/."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from knowcast.media.ffmpeg import ffmpeg_binary
from tests.browser.axe import serious_violations
from tests.browser.conftest import PHONE
from tests.browser.pages import answer_consent, create_room, page_api, sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1440, "height": 900}
VIDEO_READY = """() => new Promise((ok, fail) => {
  const video = document.querySelector("[data-testid=lesson-video]");
  if (video.readyState >= 1) return ok(video.readyState);
  video.addEventListener("loadedmetadata", () => ok(video.readyState));
  const failed = () => fail(new Error("the video did not load: " + (video.error && video.error.code)));
  video.addEventListener("error", failed);
})"""


def cover_png(path: Path) -> Path:
    image = Image.new("RGB", (800, 500), (255, 120, 90))
    for x in range(0, 800, 40):
        image.paste((255, 45, 85), (x, 0, x + 20, 500))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def tiny_mp4(path: Path) -> Path:
    """One second of ffmpeg's test pattern: a real video the page's <video> can play."""
    command = [ffmpeg_binary(None), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=10"]
    command += ["-t", "1", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
    subprocess.run(command, check=True, timeout=60)
    return path


def shoot(page: Any, folder: Path, name: str) -> None:
    """The page as seen at desktop and at phone size, then back to the size it had."""
    size = page.viewport_size
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str((folder / f"{name}-1440.png").resolve()))
    page.set_viewport_size(PHONE["viewport"])
    page.screenshot(path=str((folder / f"{name}-390.png").resolve()))
    page.set_viewport_size(size)


def assert_accessible(page: Any) -> None:
    found = serious_violations(page)
    assert found == [], found


def add_lesson(page: Any, kind: str, title: str, **fields: str) -> None:
    form = page.locator("[data-testid=lesson-form]")
    form.locator(f"[data-testid=lesson-kind-{kind}] + span").click()
    form.locator("[data-testid=lesson-title]").fill(title)
    if "body" in fields:
        form.locator("[data-testid=lesson-body]").fill(fields["body"])
    if "url" in fields:
        form.locator("[data-testid=lesson-url]").fill(fields["url"])
    if "file" in fields:
        form.locator("[data-testid=lesson-file]").set_input_files(fields["file"])
    if "drip" in fields:
        form.locator("[data-testid=lesson-drip-input]").fill(fields["drip"])
    form.locator("[data-testid=lesson-add]").click()
    expect(page.locator("[data-testid=lesson-row]", has_text=title)).to_have_count(1)


def test_a_host_builds_a_course_and_a_buyer_learns_it(
    live_server: LiveServer, new_context: Any, artifacts: Path, tmp_path: Path
) -> None:
    create_user(live_server, "teacher@example.com", "host", PASSWORD)
    create_user(live_server, "student@example.com", "viewer", PASSWORD)
    host = new_context().new_page()
    host.set_viewport_size(DESKTOP)
    sign_in(host, live_server, "teacher@example.com")
    room_id = create_room(host, live_server)

    host.goto(f"{live_server.url}/studio/products")
    expect(host.locator("[data-testid=products-empty]")).to_be_visible()
    host.locator("[data-testid=new-product-menu] summary").click()
    host.locator("[data-testid=new-course]").click()
    editor = host.locator("[data-testid=product-editor]")
    editor.locator("[data-testid=product-title]").fill("30 天理财入门课")
    editor.locator("[data-testid=product-price]").fill("99")
    editor.locator("input[name=list_price]").fill("199")
    editor.locator("textarea[name=description]").fill("**十节课**讲清预算、储蓄与指数基金")
    editor.locator("[data-testid=cover-input]").set_input_files(str(cover_png(tmp_path / "cover.png")))
    editor.locator("[data-testid=product-save]").click()
    expect(host.locator("[data-testid=product-heading]")).to_have_text("30 天理财入门课")
    expect(host.locator("[data-testid=product-cover]")).to_be_visible()
    expect(host.locator("[data-testid=lessons-empty]")).to_be_visible()
    assert_accessible(host)

    add_lesson(host, "video", "第 1 课 · 认识预算", file=str(tiny_mp4(tmp_path / "lesson.mp4")))
    add_lesson(host, "text", "第 2 课 · 记账模板", body="## 三个账户\n\n- 日常\n- 储蓄\n- 投资")
    add_lesson(host, "link", "第 3 课 · 直播答疑", url="https://meeting.example.com/abc")
    add_lesson(host, "text", "第 4 课 · 指数基金", body="下周解锁", drip="7")
    rows = host.locator("[data-testid=lesson-row]")
    expect(rows).to_have_count(4)
    rows.nth(2).locator("[data-testid=lesson-up]").click()  # the live Q&A moves before the template
    expect(rows.nth(1)).to_contain_text("第 3 课")
    expect(rows.nth(3).locator("[data-testid=lesson-drip]")).to_contain_text("7")
    assert_accessible(host)
    shoot(host, artifacts, "product-editor")

    host.goto(f"{live_server.url}/studio/products")
    expect(host.locator("[data-testid=product-tile]")).to_have_count(1)
    assert_accessible(host)
    shoot(host, artifacts, "product-library")
    product_id = int(host.locator("[data-testid=product-tile] a").get_attribute("href").rsplit("/", 1)[-1])
    shelved = page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": product_id})
    assert shelved["status"] == 201, shelved
    host.goto(f"{live_server.url}/studio")
    expect(host.locator("[data-testid=studio-upcoming] [data-testid=studio-room]")).to_have_count(1)
    assert_accessible(host)
    shoot(host, artifacts, "studio-home")

    buyer = new_context(phone=True).new_page()
    sign_in(buyer, live_server, "student@example.com")
    forbidden = buyer.goto(f"{live_server.url}/library/courses/{product_id}")
    assert forbidden is not None and forbidden.status == 403
    buyer.goto(f"{live_server.url}/rooms/{room_id}")
    answer_consent(buyer)
    buyer.locator("[data-testid=shelf-button]").click()
    buyer.locator("[data-testid=shelf-item]", has_text="30 天理财入门课").locator("button").click()
    buyer.locator("[data-testid=buy-now]").click()
    buyer.wait_for_selector("[data-testid=checkout]")  # our checkout page, then the sandbox's hosted one
    buyer.locator("[data-testid=pay-button]").click()
    buyer.wait_for_selector("[data-testid=sandbox-checkout]")
    buyer.locator("[data-testid=sandbox-pay]").click()
    buyer.wait_for_url(f"{live_server.url}/rooms/{room_id}?order=*")
    expect(buyer.locator("[data-testid=toast-link]")).to_be_visible(timeout=20_000)  # the paid order is back

    buyer.goto(f"{live_server.url}/library")
    buyer.locator("[data-testid=open-course]").click()
    expect(buyer.locator("[data-testid=course-progress]")).to_have_text("已学 0 / 4 节")
    lessons = buyer.locator("[data-testid=course-lesson]")
    expect(lessons).to_have_count(4)
    expect(lessons.nth(1)).to_contain_text("第 3 课")
    expect(lessons.nth(3)).to_have_attribute("data-locked", "true")
    expect(lessons.nth(3).locator("[data-testid=lesson-opens]")).to_be_visible()
    video = buyer.locator("[data-testid=lesson-video]")
    expect(video).to_be_visible()
    assert buyer.evaluate(VIDEO_READY) >= 1  # the signed link serves the uploaded video to its buyer
    assert_accessible(buyer)
    shoot(buyer, artifacts, "course")
    buyer.locator("[data-testid=lesson-complete]").click()
    expect(buyer.locator("[data-testid=course-progress]")).to_have_text("已学 1 / 4 节")
    expect(buyer.locator("[data-testid=lesson-link]")).to_have_attribute("href", "https://meeting.example.com/abc")
    locked_id = lessons.nth(3).get_attribute("data-lesson-id")
    refused = page_api(buyer, "POST", f"/api/v1/lessons/{locked_id}/complete")
    assert (refused["status"], refused["body"]["error"]["code"]) == (409, "lesson.locked"), refused
    course = page_api(buyer, "GET", f"/api/v1/courses/{product_id}")["body"]
    assert [lesson["locked"] for lesson in course["lessons"]] == [False, False, False, True]
    assert course["lessons"][3]["body_html"] == "" and course["completed"] == 1

    host.goto(f"{live_server.url}/studio")  # the sale shows on the studio home
    expect(host.locator("[data-testid=total-gmv]")).to_have_text("¥99.00")
    host.goto(f"{live_server.url}/studio/products")
    expect(host.locator("[data-testid=tile-sold]")).to_have_text("已售 1")
    host.goto(f"{live_server.url}/studio")
    shoot(host, artifacts, "studio-home-sold")


def open_tab(page: Any, tab: str) -> None:
    page.locator(f"[data-testid=tab-{tab}]").click()
    expect(page.locator(f"[data-testid=tab-{tab}]")).to_have_attribute("aria-selected", "true")


PAGE_HEIGHT = (
    "() => [document.scrollingElement.scrollHeight, window.innerHeight, document.scrollingElement.scrollWidth]"
)
TABS = ("stream", "shelf", "promotions", "interaction", "data")
SEEN = {
    "stream": "[data-testid=stream-key]",
    "shelf": "[data-testid=product-form]",
    "promotions": "[data-testid=flash-form]",
    "interaction": "[data-testid=console-chat-input]",
    "data": "[data-testid=kpis]",
}


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_console_is_five_tabs_that_each_fit_one_screen(
    live_server: LiveServer, new_context: Any, artifacts: Path, phone: bool
) -> None:
    email = f"console-{'phone' if phone else 'desk'}@example.com"
    create_user(live_server, email, "host", PASSWORD)
    host = new_context(phone=phone).new_page()
    if not phone:
        host.set_viewport_size(DESKTOP)
    sign_in(host, live_server, email)
    create_room(host, live_server)
    for tab in TABS:
        open_tab(host, tab)
        expect(host.locator(SEEN[tab])).to_be_visible()
        for other in TABS:
            if other != tab:
                expect(host.locator(SEEN[other])).to_be_hidden()
        height, viewport, width = host.evaluate(PAGE_HEIGHT)
        assert height <= viewport + 1, f"the {tab} tab makes the page scroll ({height} > {viewport})"
        assert width <= (390 if phone else 1440), f"the {tab} tab scrolls sideways"
        assert_accessible(host)
        host.screenshot(path=str((artifacts / f"console-{tab}-{'390' if phone else '1440'}.png").resolve()))
    host.reload()
    expect(host.locator("[data-testid=tab-data]")).to_have_attribute("aria-selected", "true")  # kept in #tab-data
    room_id = host.get_attribute("[data-testid=console]", "data-room-id")
    host.goto(f"{live_server.url}/studio/rooms/{room_id}/review")  # the review page, before any stream
    assert_accessible(host)
    host.screenshot(path=str((artifacts / f"review-{'390' if phone else '1440'}.png").resolve()))
