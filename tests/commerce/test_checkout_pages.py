"""The buyer's pages, rendered by the server: the checkout of an order (coupons with discounts and reasons, the
pay methods for the device, the hold time) and "我的订单 / My orders" (pay, cancel, refund status)."""

from __future__ import annotations

import re
from typing import Any

from knowcast.accounts.models import Role
from tests.commerce.conftest import Shop, pay
from tests.commerce.test_checkout_coupons import _buy, _claimed

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


def _attrs(html: str, testid: str, attr: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}"[^>]*?{attr}="([^"]*)"', html)


async def test_the_checkout_page_lists_coupons_methods_and_the_hold(shop: Shop, make_user: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", title="理财课", price=9900)
    await _claimed(shop, buyer, code="SAVE30", value=3000)
    await _claimed(shop, buyer, code="BIG", value=5000, min_spend=20000)
    order = (await _buy(buyer, shop, product["id"], "SAVE30")).json()

    page = await buyer.client.get(f"/checkout/{order['id']}", headers={"user-agent": PHONE})
    assert page.status_code == 200
    html = page.text
    assert "确认订单" in html and 'data-testid="checkout-total">¥69.00<' in html
    assert _attrs(html, "coupon-choice", "data-code") == ["SAVE30", "BIG"]
    assert 'data-testid="coupon-best"' in html and "−¥30.00" in html
    assert 'data-reason="coupon.min_spend"' in html and "未达到这张券的使用门槛" in html
    assert _attrs(html, "pay-method", "data-method") == ["sandbox"]
    assert 'data-testid="checkout-hold"' in html and re.search(r"data-seconds-left=\"(\d+)\"", html)
    assert 'href="/orders" data-testid="nav-orders"' in html

    await buyer.client.patch("/api/v1/auth/me", json={"locale": "en"})
    en = await buyer.client.get(f"/checkout/{order['id']}")
    assert "Confirm order" in en.text and "The order is below this coupon&#39;s minimum spend." in en.text

    stranger = await make_user(Role.VIEWER)
    assert (await stranger.client.get(f"/checkout/{order['id']}")).status_code == 404
    qr = await buyer.client.get(f"/checkout/{order['id']}/qr.svg")  # the sandbox shows no QR code
    assert qr.status_code == 404


async def test_the_coupon_form_reprices_and_explains_a_refusal(shop: Shop, make_user: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", price=9900)
    await _claimed(shop, buyer, code="SAVE30", value=3000)
    await _claimed(shop, buyer, code="SAVE10", value=1000)
    order = (await _buy(buyer, shop, product["id"])).json()
    url = f"/checkout/{order['id']}"
    token = _token((await buyer.client.get(url)).text)

    chosen = await buyer.client.post(f"{url}/coupon", data={"csrf_token": token, "coupon": "SAVE10", "code": ""})
    assert (chosen.status_code, chosen.headers["location"]) == (303, url)
    assert 'data-testid="checkout-total">¥89.00<' in (await buyer.client.get(url)).text
    typed = await buyer.client.post(f"{url}/coupon", data={"csrf_token": token, "coupon": "SAVE10", "code": "nope"})
    assert typed.status_code == 404 and 'data-code="coupon.not_found"' in typed.text and "没有这张券" in typed.text
    none = await buyer.client.post(f"{url}/coupon", data={"csrf_token": token, "coupon": "", "code": ""})
    assert none.status_code == 303
    assert 'data-testid="checkout-total">¥99.00<' in (await buyer.client.get(url)).text


async def test_my_orders_lists_pay_cancel_and_refund_status(shop: Shop, make_user: Any, webhook_server: str) -> None:
    buyer = await make_user(Role.VIEWER)
    course = await shop.shelved(kind="course", title="理财课", price=9900)
    book = await shop.shelved(kind="file", title="电子书", price=1990)
    ticket = await shop.shelved(kind="course", title="退款课", price=500)
    waiting = (await _buy(buyer, shop, course["id"])).json()
    paid = (await _buy(buyer, shop, book["id"])).json()
    await pay(buyer.client, paid["id"])
    refunded = (await _buy(buyer, shop, ticket["id"])).json()
    await pay(buyer.client, refunded["id"])
    assert (await shop.host.client.post(f"/api/v1/orders/{refunded['id']}/refund")).status_code == 200

    html = (await buyer.client.get("/orders")).text
    assert "我的订单" in html
    states = dict(re.findall(r'data-testid="order" data-order-id="(\d+)" data-state="(\w+)"', html))
    assert states == {str(waiting["id"]): "pending", str(paid["id"]): "fulfilled", str(refunded["id"]): "refunded"}
    assert f'href="/checkout/{waiting["id"]}" data-testid="order-pay"' in html
    assert html.count('data-testid="order-cancel"') == 1
    assert html.count('data-testid="order-learn"') == 1
    assert html.count('data-testid="refund-status"') == 1 and "已退款" in html
    only_pending = (await buyer.client.get("/orders?tab=pending")).text
    assert re.findall(r'data-testid="order" data-order-id="(\d+)"', only_pending) == [str(waiting["id"])]

    cancelled = await buyer.client.post(f"/orders/{waiting['id']}/cancel", data={"csrf_token": _token(html)})
    assert (cancelled.status_code, cancelled.headers["location"]) == (303, "/orders")
    assert (await buyer.client.get(f"/api/v1/orders/{waiting['id']}")).json()["state"] == "cancelled"
    again = await buyer.client.post(f"/orders/{waiting['id']}/cancel", data={"csrf_token": _token(html)})
    assert again.status_code == 409
    library = (await buyer.client.get("/library")).text
    assert 'href="/orders" class="small" data-testid="library-orders-link"' in library
