"""In a real Chromium at phone size (390×844) against a real server process that takes WeChat Pay, whose API
is the WeChat Pay simulator (tests/commerce/simulators/wechat.py) on loopback.

- H5 (a phone browser outside WeChat): a viewer claims the host's coupon in the room, buys the pinned course
  with it, is sent to WeChat's H5 cashier, pays there, comes back, and finds the course in the library, paid
  at the discounted price.
- JSAPI (inside WeChat): the same purchase with a MicroMessenger user agent. Chromium is not WeChat's in-app
  browser, so the test injects a ``WeixinJSBridge`` that stands in for it: its ``getBrandWCPayRequest``
  forwards the page's signed parameters to the simulator, which checks the paySign with the merchant's public
  key and the payer's openid as WeChat's client would. The openid comes from the silent ``snsapi_base``
  redirects, which the browser really follows (Knowcast → the simulator's authorize → Knowcast's callback).

Notifications reach the server over HTTP from the simulator, signed with its platform key, the resource
encrypted with the APIv3 key."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, artifacts, browser, new_context  # noqa: F401  (browser fixtures)
from tests.browser.pages import answer_consent, create_room, page_api, sign_in
from tests.commerce.simulators.wechat import WechatKeys, WechatSimulator
from tests.commerce.wechat_support import write_keys
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user, start_server

pytestmark = pytest.mark.browser
SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN"
)
# what the test puts in place of WeChat's in-app bridge (see the module docstring); wxSimPay is a Playwright
# binding that hands the parameters to the simulator, as WeChat's client hands them to WeChat Pay
BRIDGE = """
window.WeixinJSBridge = {
  invoke(name, params, callback) {
    if (name !== "getBrandWCPayRequest") { callback({err_msg: name + ":fail unsupported"}); return; }
    window.wxSimPay(params).then(callback, () => callback({err_msg: "get_brand_wcpay_request:fail network"}));
  },
};
document.dispatchEvent(new Event("WeixinJSBridgeReady"));
"""


@pytest.fixture(scope="module")
def wechat_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, WechatSimulator]]:
    """The simulator first (the server needs its address and keys), then the server."""
    with WechatSimulator(WechatKeys.generate()).run() as sim:
        keys_dir = tmp_path_factory.mktemp("wechat-keys")
        env = {f"KNOWCAST_{name.upper()}": value for name, value in write_keys(sim, keys_dir).items()}
        server = start_server(tmp_path_factory.mktemp("wechat-live"), KNOWCAST_PAYMENT_PROVIDERS="wechat", **env)
        try:
            yield server, sim
        finally:
            server.stop()


def phone(chromium: Any, user_agent: str) -> Any:
    """A 390×844 phone context with this browser's user agent (a phone's own, not headless Chromium's)."""
    context = chromium.new_context(locale="zh-CN", user_agent=user_agent, **PHONE)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "kc_consent", "value": "essential", "domain": "127.0.0.1", "path": "/"}])
    return context


def shop_with_coupon(server: LiveServer, host: Any, title: str, code: str) -> int:
    """A room with a pinned ¥99 course and a ¥30 coupon dropped in it; returns the room id."""
    room_id = int(create_room(host, server))
    course = page_api(host, "POST", "/api/v1/products", {"kind": "course", "title": title, "price": 9900})
    assert course["status"] == 201, course
    product_id = course["body"]["id"]
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/shelf", {"product_id": product_id})["status"] == 201
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/pin", {"product_id": product_id})["status"] == 200
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"code": code, "kind": "fixed", "value": 3000, "ends_at": ends, "claim_required": True}
    coupon = page_api(host, "POST", "/api/v1/coupons", body)
    assert coupon["status"] == 201, coupon
    drop = {"coupon_id": coupon["body"]["id"], "quantity": 5, "claim_seconds": 120}
    assert page_api(host, "POST", f"/api/v1/rooms/{room_id}/coupon-drops", drop)["status"] == 201
    return room_id


def claim_and_buy(viewer: Any, server: LiveServer, room_id: int, title: str) -> None:
    viewer.goto(f"{server.url}/rooms/{room_id}")
    answer_consent(viewer)
    expect(viewer.locator("[data-testid=pinned-title]")).to_have_text(title)
    viewer.locator("[data-testid=coupon-claim]").click()
    expect(viewer.locator("[data-testid=coupon-claim]")).to_be_disabled(timeout=15_000)  # a busy machine
    viewer.locator("[data-testid=pinned-buy]").click()
    viewer.wait_for_url(f"{server.url}/checkout/*")
    expect(viewer.locator("[data-testid=checkout-total]")).to_have_text("¥69.00")
    expect(viewer.locator("[data-testid=checkout-discount]")).to_contain_text("30.00")


def paid_order(viewer: Any, order_id: int) -> dict[str, Any]:
    state = ""
    for _ in range(150):  # the notification travels from the simulator to the server (bounded wait)
        state = page_api(viewer, "GET", f"/api/v1/orders/{order_id}")["body"]["state"]
        if state in ("paid", "fulfilled"):
            break
        viewer.wait_for_timeout(100)
    assert state in ("paid", "fulfilled")
    order: dict[str, Any] = page_api(viewer, "GET", f"/api/v1/orders/{order_id}")["body"]
    return order


def in_library(viewer: Any, server: LiveServer, title: str, folder: Path) -> None:
    viewer.goto(f"{server.url}/library")
    expect(viewer.locator("[data-testid=owned-item]", has_text=title)).to_have_count(1)
    viewer.screenshot(path=str(folder / "library.png"), full_page=True)


def test_a_viewer_pays_the_pinned_course_with_a_coupon_on_wechat_h5(
    wechat_shop: tuple[LiveServer, WechatSimulator],
    browser: Any,  # noqa: F811
    new_context: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    server, sim = wechat_shop
    title = "30 天理财入门课"
    create_user(server, "wx-host@example.com", "host", PASSWORD)
    create_user(server, "wx-buyer@example.com", "viewer", PASSWORD)
    host = new_context().new_page()
    sign_in(host, server, "wx-host@example.com")
    room_id = shop_with_coupon(server, host, title, "WECHAT30")

    context = phone(browser, SAFARI_UA)
    viewer = context.new_page()
    sign_in(viewer, server, "wx-buyer@example.com")
    claim_and_buy(viewer, server, room_id, title)
    method = viewer.locator("[data-testid=pay-method][data-method=wechat_h5] input")
    expect(method).to_be_checked()  # a phone browser outside WeChat: H5 first
    viewer.screenshot(path=str(artifacts / "checkout.png"), full_page=True)
    viewer.locator("[data-testid=pay-button]").click()

    viewer.wait_for_url(f"{sim.base_url}/sim/h5*")
    expect(viewer.locator("#wxpay-amount")).to_have_text("¥69.00")
    viewer.screenshot(path=str(artifacts / "wechat-cashier.png"))
    viewer.locator("#wxpay-confirm").click()
    viewer.wait_for_url(f"{server.url}/**")  # WeChat returns the buyer to redirect_url
    order_id = int(viewer.evaluate("new URLSearchParams(location.search).get('order')"))
    [trade] = [t for t in sim.trades.values() if t.attach == str(order_id)]
    assert (trade.trade_type, trade.total, trade.state) == ("MWEB", 6900, "SUCCESS")
    order = paid_order(viewer, order_id)
    assert (order["total"], order["discount"]) == (6900, 3000)
    in_library(viewer, server, title, artifacts)
    context.close()


def test_a_viewer_pays_inside_wechat_with_jsapi(
    wechat_shop: tuple[LiveServer, WechatSimulator],
    browser: Any,  # noqa: F811
    new_context: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    server, sim = wechat_shop
    title = "微信里买的课"
    create_user(server, "wx-host2@example.com", "host", PASSWORD)
    create_user(server, "wx-buyer2@example.com", "viewer", PASSWORD)
    host = new_context().new_page()
    sign_in(host, server, "wx-host2@example.com")
    room_id = shop_with_coupon(server, host, title, "WXJSAPI30")

    context = phone(browser, WECHAT_UA)
    context.expose_function("wxSimPay", lambda params: httpx.post(f"{sim.base_url}/sim/jsapi", json=params).json())
    context.add_init_script(BRIDGE)
    try:
        viewer = context.new_page()
        sign_in(viewer, server, "wx-buyer2@example.com")
        claim_and_buy(viewer, server, room_id, title)
        order_id = int(viewer.url.rstrip("/").rsplit("/", 1)[1].split("?")[0])
        method = viewer.locator("[data-testid=pay-method][data-method=wechat_jsapi] input")
        expect(method).to_be_checked()  # inside WeChat: JSAPI first
        viewer.locator("[data-testid=pay-button]").click()
        # no openid yet: the silent snsapi_base round trip (Knowcast → WeChat → Knowcast) and back here
        for _ in range(150):
            if any(c["name"] == "kc_wx_openid" for c in context.cookies(server.url)):
                break
            viewer.wait_for_timeout(100)
        assert any(c["name"] == "kc_wx_openid" for c in context.cookies(server.url))
        viewer.wait_for_url(f"{server.url}/checkout/{order_id}*")
        viewer.wait_for_load_state()
        # back on the checkout page, it goes on paying by itself (no second tap): JSAPI through the bridge
        for _ in range(150):
            if any(t.attach == str(order_id) and t.state == "SUCCESS" for t in sim.trades.values()):
                break
            viewer.wait_for_timeout(100)
        [trade] = [t for t in sim.trades.values() if t.attach == str(order_id)]
        assert (trade.trade_type, trade.total, trade.openid, trade.state) == ("JSAPI", 6900, sim.openid, "SUCCESS")
        order = paid_order(viewer, order_id)
        assert (order["total"], order["discount"]) == (6900, 3000)
        viewer.wait_for_url(f"{server.url}/checkout/{order_id}*")  # the page polled and shows the result
        viewer.screenshot(path=str(artifacts / "jsapi-result.png"), full_page=True)
        in_library(viewer, server, title, artifacts)
    finally:
        context.close()


def test_a_desktop_buyer_scans_the_native_qr_code_and_the_page_follows(
    wechat_shop: tuple[LiveServer, WechatSimulator],
    new_context: Any,  # noqa: F811
    artifacts: Path,  # noqa: F811
) -> None:
    """Desktop: the checkout shows WeChat Pay's code_url as a QR code; the test reads the code off the screen
    (zxing), opens it on a phone as WeChat would after a scan, pays, and the desktop page, polling, moves on."""
    server, sim = wechat_shop
    title = "扫码买的课"
    create_user(server, "wx-host3@example.com", "host", PASSWORD)
    create_user(server, "wx-buyer3@example.com", "viewer", PASSWORD)
    host = new_context().new_page()
    sign_in(host, server, "wx-host3@example.com")
    course = page_api(host, "POST", "/api/v1/products", {"kind": "course", "title": title, "price": 1990})
    assert course["status"] == 201, course

    desktop = new_context().new_page()
    sign_in(desktop, server, "wx-buyer3@example.com")
    created = page_api(desktop, "POST", "/api/v1/orders", {"items": [{"product_id": course["body"]["id"]}]})
    assert created["status"] == 201, created
    order_id = created["body"]["id"]
    desktop.goto(f"{server.url}/checkout/{order_id}")
    expect(desktop.locator("[data-testid=pay-method][data-method=wechat_native] input")).to_be_checked()
    desktop.locator("[data-testid=pay-button]").click()
    qr = desktop.locator("[data-testid=qr-code]")
    expect(qr).to_be_visible()
    desktop.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=qr-code]'); "
        "return img.getAttribute('src') && img.complete; }"
    )
    desktop.screenshot(path=str(artifacts / "native-qr.png"))
    shot = qr.screenshot(path=str(artifacts / "qr-code.png"))
    codes = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))]
    assert len(codes) == 1 and codes[0].startswith("weixin://wxpay/bizpayurl?pr="), codes

    phone_page = new_context(phone=True).new_page()  # WeChat opens the scanned code on the phone
    phone_page.goto(sim.scan_url(codes[0]))
    expect(phone_page.locator("#wxpay-amount")).to_have_text("¥19.90")
    phone_page.locator("#wxpay-confirm").click()
    expect(phone_page.locator("#wxpay-done")).to_be_visible()

    assert paid_order(desktop, order_id)["total"] == 1990
    # the page polled the order and now shows the result: nothing left to pay
    expect(desktop.locator("[data-testid=pay-form]")).to_have_count(0)
    expect(desktop.locator("[data-testid=qr-code]")).to_have_count(0)
    in_library(desktop, server, title, artifacts)
