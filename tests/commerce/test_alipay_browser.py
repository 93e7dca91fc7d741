"""In a real Chromium at phone size (390×844) against a real server process that takes Alipay, whose gateway
is the Alipay simulator (tests/commerce/simulators/alipay.py) on loopback: a viewer claims the host's coupon
in the room, buys the pinned course with it, is sent to Alipay's wap cashier, pays there, comes back, and finds
the course in the library, paid at the discounted price. The notification reaches the server over HTTP from
the simulator, signed with its Alipay key."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, artifacts, browser, new_context  # noqa: F401  (browser fixtures)
from tests.browser.pages import answer_consent, create_room, page_api, sign_in
from tests.commerce.alipay_fixtures import APP_ID, SELLER_ID, app_keys, served
from tests.commerce.simulators.alipay import AlipaySimulator
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user, start_server

pytestmark = pytest.mark.browser
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


@pytest.fixture(scope="module")
def alipay_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, AlipaySimulator]]:
    """The simulator first (the server needs its gateway and Alipay's public key), then the server."""
    keys = app_keys()
    simulator = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=keys.app_public)
    with served(simulator) as alipay:
        server = start_server(
            tmp_path_factory.mktemp("alipay-live"),
            KNOWCAST_PAYMENT_PROVIDERS="alipay",
            KNOWCAST_ALIPAY_APP_ID=APP_ID,
            KNOWCAST_ALIPAY_APP_PRIVATE_KEY=keys.app_private,
            KNOWCAST_ALIPAY_PUBLIC_KEY=alipay.public_key,
            KNOWCAST_ALIPAY_SELLER_ID=SELLER_ID,
            KNOWCAST_ALIPAY_GATEWAY=alipay.gateway_url,
        )
        try:
            yield server, alipay
        finally:
            server.stop()


def test_a_viewer_pays_the_pinned_course_with_a_coupon_on_alipay(
    alipay_shop: tuple[LiveServer, AlipaySimulator],
    browser: Any,  # noqa: F811
    new_context: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    server, alipay = alipay_shop
    create_user(server, "alipay-host@example.com", "host", PASSWORD)
    create_user(server, "alipay-buyer@example.com", "viewer", PASSWORD)
    host = new_context().new_page()
    sign_in(host, server, "alipay-host@example.com")
    room_id = create_room(host, server)
    course = page_api(host, "POST", "/api/v1/products", {"kind": "course", "title": "30 天理财入门课", "price": 9900})
    assert course["status"] == 201, course
    product_id = course["body"]["id"]
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": product_id})["status"] == 201
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/pin", {"product_id": product_id})["status"] == 200
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    coupon = page_api(
        host,
        "POST",
        "/api/v1/coupons",
        {"code": "ALIPAY30", "kind": "fixed", "value": 3000, "ends_at": ends, "claim_required": True},
    )
    assert coupon["status"] == 201, coupon
    drop = {"coupon_id": coupon["body"]["id"], "quantity": 5, "claim_seconds": 120}
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/coupon-drops", drop)["status"] == 201, drop

    phone = browser.new_context(locale="zh-CN", user_agent=IPHONE, **PHONE)  # a phone browser: wap pay
    phone.set_default_timeout(15_000)
    phone.add_cookies([{"name": "kc_consent", "value": "essential", "domain": "127.0.0.1", "path": "/"}])
    viewer = phone.new_page()
    sign_in(viewer, server, "alipay-buyer@example.com")
    viewer.goto(f"{server.url}/rooms/{room_id}")
    answer_consent(viewer)
    expect(viewer.locator("[data-testid=pinned-title]")).to_have_text("30 天理财入门课")
    claim = viewer.locator("[data-testid=coupon-claim]")
    for _ in range(10):  # the drop card is redrawn every second (its countdown): a click may land on the old one
        if claim.is_disabled():
            break
        with contextlib.suppress(PlaywrightTimeout):
            claim.click(timeout=2_000)
        viewer.wait_for_timeout(500)  # bounded polling, nothing timed
    expect(claim).to_have_text("已领取")
    viewer.locator("[data-testid=pinned-buy]").click()

    viewer.wait_for_url(f"{server.url}/checkout/*")
    expect(viewer.locator("[data-testid=checkout-total]")).to_have_text("¥69.00")
    expect(viewer.locator("[data-testid=checkout-discount]")).to_contain_text("30.00")
    method = viewer.locator("[data-testid=pay-method][data-method=alipay_wap] input")
    expect(method).to_be_checked()
    viewer.screenshot(path=str(artifacts / "checkout.png"), full_page=True)
    viewer.locator("[data-testid=pay-button]").click()

    viewer.wait_for_url(f"{alipay.base_url}/cashier/*")
    expect(viewer.locator(".amount")).to_have_text("¥69.00")
    viewer.screenshot(path=str(artifacts / "alipay-cashier.png"))
    viewer.locator("#alipay-pay").click()
    viewer.wait_for_url(f"{server.url}/**")
    order_id = int(viewer.evaluate("new URLSearchParams(location.search).get('order')"))
    [trade] = alipay.trades.values()
    assert (trade.total, trade.status) == (6900, "TRADE_SUCCESS")

    for _ in range(100):  # the notification travels from the simulator to the server (bounded wait)
        state = page_api(viewer, "GET", f"/api/v1/orders/{order_id}")["body"]["state"]
        if state in ("paid", "fulfilled"):
            break
        viewer.wait_for_timeout(100)
    assert state in ("paid", "fulfilled")
    order = page_api(viewer, "GET", f"/api/v1/orders/{order_id}")["body"]
    assert (order["total"], order["discount"]) == (6900, 3000)
    viewer.goto(f"{server.url}/library")
    owned = viewer.locator("[data-testid=owned-item]", has_text="30 天理财入门课")
    expect(owned).to_have_count(1)
    viewer.screenshot(path=str(artifacts / "library.png"), full_page=True)
    viewer.goto(f"{server.url}/orders")
    expect(viewer.locator(f"[data-order-id='{order_id}']")).to_contain_text("¥69.00")
    viewer.screenshot(path=str(artifacts / "orders.png"), full_page=True)
    assert [n.answers[-1] for n in alipay.notifications] == ["success"]
    phone.close()
