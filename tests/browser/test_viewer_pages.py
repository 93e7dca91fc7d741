"""The viewer's other pages in a real Chromium, at 390×844 and 1440×900: home, my library, my orders and the
checkout page have no serious or critical accessibility problem (axe-core), never scroll sideways, keep the
header on one line, and are saved as screenshots (``screens``: KNOWCAST_SCREENSHOTS or pytest's tmp). Signing
up from a room comes back to that room."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import serious_violations
from tests.browser.pages import answer_consent, create_room, page_api, sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser
SIZES = {"phone": None, "desktop": {"viewport": {"width": 1440, "height": 900}}}


def one_line_header(page: Any) -> None:
    bar = page.locator("[data-testid=topbar]").bounding_box()
    assert bar is not None and bar["height"] <= 64, f"the header wraps: {bar}"


def check(page: Any, name: str, size: str, screens: Path) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name} scrolls sideways on {size}: {width}px"
    one_line_header(page)
    page.screenshot(path=str(screens / f"{name}-{size}.png"), full_page=size == "desktop")
    assert serious_violations(page) == [], name


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_viewer_pages_are_accessible_and_fit(
    live_server: LiveServer, new_context: Any, screens: Path, size: str
) -> None:
    host_email, viewer_email = f"pages-host-{size}@example.com", f"pages-viewer-{size}@example.com"
    create_user(live_server, host_email, "host", PASSWORD)
    create_user(live_server, viewer_email, "viewer", PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, host_email)
    room_id = create_room(host, live_server)
    course = page_api(host, "POST", "/api/v1/products", {"kind": "course", "title": "七天写作训练营", "price": 19900})
    page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": course["body"]["id"]})

    options = SIZES[size] or {}
    page = new_context(phone=size == "phone", bypass_csp=True, **options).new_page()
    page.goto(f"{live_server.url}/")
    answer_consent(page)
    check(page, "home-visitor", size, screens)
    sign_in(page, live_server, viewer_email)
    check(page, "home", size, screens)
    order = page_api(
        page,
        "POST",
        "/api/v1/orders",
        {
            "items": [{"product_id": course["body"]["id"], "quantity": 1}],
            "room_id": int(room_id),
            "idempotency_key": f"pages-{size}",
        },
    )
    assert order["status"] == 201, order
    for path, name in (
        (f"/checkout/{order['body']['id']}", "checkout"),
        ("/orders", "orders"),
        ("/library", "library"),
    ):
        page.goto(f"{live_server.url}{path}")
        check(page, name, size, screens)


def test_signing_up_from_a_room_comes_back_to_it(live_server: LiveServer, new_context: Any) -> None:
    host = new_context().new_page()
    create_user(live_server, "back-host@example.com", "host", PASSWORD)
    sign_in(host, live_server, "back-host@example.com")
    room_id = create_room(host, live_server)
    visitor = new_context(phone=True).new_page()
    visitor.goto(f"{live_server.url}/rooms/{room_id}?ref=share", wait_until="domcontentloaded")
    answer_consent(visitor)
    visitor.click("[data-testid=nav-signup]")
    visitor.fill("input[name=display_name]", "小新")
    visitor.fill("input[name=email]", "xiaoxin@example.com")
    visitor.fill("input[name=password]", PASSWORD)
    visitor.click("[data-testid=signup-form] button[type=submit]")
    visitor.wait_for_url(f"{live_server.url}/rooms/{room_id}?ref=share", wait_until="domcontentloaded")
    visitor.click("[data-testid=user-menu] summary")
    visitor.click("[data-testid=nav-orders]")
    visitor.wait_for_url(f"{live_server.url}/orders")
