"""In a real Chromium against a real server process, at phone width: the host creates a course, pins it and
starts a flash sale from the console; a viewer grabs one in the room, pays on the sandbox's hosted checkout
(whose signed webhook reaches the server over HTTP), comes back to the room and finds the course in their
library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import answer_consent, create_room, page_api, sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser


def test_a_viewer_buys_the_pinned_product_in_a_flash_sale(
    live_server: LiveServer, new_context: Any, artifacts: Path
) -> None:
    create_user(live_server, "shop-host@example.com", "host", PASSWORD)
    create_user(live_server, "buyer@example.com", "viewer", PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, "shop-host@example.com")
    room_id = create_room(host, live_server)

    host.locator("[data-testid=tab-shelf]").click()
    panel = host.locator("[data-testid=console-shelf]")
    panel.locator("[data-testid=product-form] input[name=title]").fill("30 天理财入门课")
    panel.locator("[data-testid=product-form] select[name=kind]").select_option("course")
    panel.locator("[data-testid=product-form] input[name=price]").fill("199")
    panel.locator("[data-testid=product-form] textarea[name=description]").fill("**十节课**讲清预算与指数基金")
    panel.locator("[data-testid=product-create]").click()
    item = panel.locator("[data-testid=console-shelf-item]", has_text="30 天理财入门课")
    item.locator("[data-testid=pin]").click()
    expect(panel.locator("[data-testid=console-shelf-item].pinned")).to_have_count(1)
    host.locator("[data-testid=tab-promotions]").click()
    flash = panel.locator("[data-testid=flash-form]")
    flash.locator("input[name=price]").fill("9.9")
    flash.locator("input[name=stock]").fill("5")
    flash.locator("[data-testid=flash-create]").click()
    expect(panel.locator("[data-testid=console-sale]")).to_have_count(1)
    host.screenshot(path=str(artifacts / "console.png"), full_page=True)

    viewer = new_context(phone=True).new_page()
    sign_in(viewer, live_server, "buyer@example.com")
    viewer.goto(f"{live_server.url}/rooms/{room_id}")
    answer_consent(viewer)
    expect(viewer.locator("[data-testid=pinned-title]")).to_have_text("30 天理财入门课")
    expect(viewer.locator("[data-testid=flash-stock]")).to_contain_text("5")
    expect(viewer.locator("[data-testid=flash-countdown]")).to_contain_text(":")
    viewer.screenshot(path=str(artifacts / "room-before.png"))
    viewer.locator("[data-testid=flash-grab]").click()
    expect(viewer.locator("[data-testid=flash-grab]")).to_have_text("抢到了！请尽快支付")
    expect(viewer.locator("[data-testid=flash-stock]")).to_contain_text("4")
    viewer.locator("[data-testid=flash-pay]").click()

    viewer.wait_for_selector("[data-testid=checkout]")
    expect(viewer.locator("[data-testid=checkout-total]")).to_have_text("¥9.90")
    viewer.screenshot(path=str(artifacts / "checkout.png"))
    viewer.locator("[data-testid=pay-button]").click()
    viewer.wait_for_selector("[data-testid=sandbox-checkout]")
    expect(viewer.locator("[data-testid=checkout-total]")).to_have_text("¥9.90")
    viewer.locator("[data-testid=sandbox-pay]").click()
    viewer.wait_for_url(f"{live_server.url}/rooms/{room_id}?order=*")
    link = viewer.locator("[data-testid=toast-link]")
    expect(link).to_be_visible(timeout=20_000)
    viewer.screenshot(path=str(artifacts / "room-paid.png"))
    link.click()
    viewer.wait_for_selector("[data-testid=library]")
    owned = viewer.locator("[data-testid=owned-item]", has_text="30 天理财入门课")
    expect(owned).to_have_count(1)
    expect(owned.locator("[data-testid=course-progress]")).to_contain_text("0")
    viewer.screenshot(path=str(artifacts / "library.png"), full_page=True)


def test_a_viewer_books_a_consultation_slot_with_a_note(live_server: LiveServer, new_context: Any) -> None:
    create_user(live_server, "coach@example.com", "host", PASSWORD)
    create_user(live_server, "client@example.com", "viewer", PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, "coach@example.com")
    room_id = create_room(host, live_server)
    product = page_api(
        host, "POST", "/api/v1/products", {"kind": "consultation", "title": "一对一咨询", "price": 30000}
    )
    assert product["status"] == 201, product
    slot = page_api(
        host, "POST", f"/api/v1/products/{product['body']['id']}/slots", {"starts_at": "2030-01-02T10:00:00+08:00"}
    )
    assert slot["status"] == 201, slot
    shelved = page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": product["body"]["id"]})
    assert shelved["status"] == 201, shelved

    viewer = new_context(phone=True).new_page()
    sign_in(viewer, live_server, "client@example.com")
    viewer.goto(f"{live_server.url}/rooms/{room_id}")
    answer_consent(viewer)
    viewer.locator("[data-testid=shelf-button]").click()
    viewer.locator("[data-testid=shelf-item]", has_text="一对一咨询").locator("button").click()
    expect(viewer.locator("[data-testid=slot-option]")).to_have_count(1)
    viewer.locator("[data-testid=consultation-note]").fill("想聊聊基金定投")
    viewer.locator("[data-testid=buy-now]").click()
    viewer.wait_for_selector("[data-testid=checkout]")
    expect(viewer.locator("[data-testid=checkout-total]")).to_have_text("¥300.00")
    orders = page_api(host, "GET", f"/api/v1/rooms/{room_id}/orders")["body"]
    assert [(i["slot_id"], i["note"]) for o in orders for i in o["items"]] == [(slot["body"]["id"], "想聊聊基金定投")]


def test_the_room_shop_comes_with_the_welcome_and_without_it_from_the_route(
    live_server: LiveServer, new_context: Any
) -> None:
    """The pinned card is drawn from the live socket's welcome, with no request for the commerce snapshot; a
    page whose socket never welcomes it (replaced here by one that says nothing) asks the route instead."""
    create_user(live_server, "welcome-host@example.com", "host", PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, "welcome-host@example.com")
    room_id = create_room(host, live_server)
    body = {"kind": "course", "title": "随欢迎而来的课", "price": 9900}
    product = page_api(host, "POST", "/api/v1/products", body)
    assert product["status"] == 201, product
    product_id = product["body"]["id"]
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": product_id})["status"] < 300
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/pin", {"product_id": product_id})["status"] < 300

    for socket_works in (True, False):
        viewer = new_context(phone=True).new_page()
        asked: list[str] = []
        viewer.on("request", lambda r, asked=asked: asked.append(r.url) if r.url.endswith("/commerce") else None)
        if not socket_works:
            viewer.route_web_socket("**/live", lambda ws: None)  # open, but never a frame from the server
        viewer.goto(f"{live_server.url}/rooms/{room_id}")
        answer_consent(viewer)
        expect(viewer.locator("[data-testid=pinned-title]")).to_have_text("随欢迎而来的课", timeout=20_000)
        assert bool(asked) is not socket_works, asked
