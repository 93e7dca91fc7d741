"""The catalog: products of every kind, prices in minor units, safe markdown, and refused nonsense."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from knowcast.catalog import markdown
from tests.commerce.conftest import Shop


def test_markdown_is_rendered_without_raw_html_or_script_links() -> None:
    html = markdown.render("# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) [ok](https://a.example)")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="https://a.example" rel="nofollow noopener noreferrer" target="_blank"' in html
    assert markdown.plain("**Bold** text\n\nmore") == "Bold text more"


async def test_products_of_every_kind(shop: Shop) -> None:
    course = await shop.product(kind="course", title="理财入门", price=19900, list_price=29900)
    assert (course["price"], course["list_price"], course["currency"]) == (19900, 29900, "CNY")
    await shop.product(kind="file", title="E-book", price=990)
    await shop.product(kind="consultation", title="1:1", price=50000)
    await shop.product(kind="membership", title="Club", price=9900, membership_days=30)
    await shop.product(kind="ticket", title="Ticket", price=100, room_id=shop.room_id)
    await shop.product(kind="replay", title="Replay", price=100, room_id=shop.room_id)
    lesson = await shop.host.client.post(
        f"/api/v1/products/{course['id']}/lessons", json={"title": "第一课", "body": "**hello**"}
    )
    assert lesson.status_code == 201 and lesson.json()["body_html"] == "<p><strong>hello</strong></p>\n"
    mine = (await shop.host.client.get("/api/v1/products")).json()
    assert len(mine) == 6


async def test_absurd_prices_and_settings_are_refused(shop: Shop) -> None:
    for body in (
        {"kind": "item", "title": "x", "price": -1},
        {"kind": "item", "title": "x", "price": 10**12},
        {"kind": "item", "title": "x", "price": "free"},
        {"kind": "item", "title": "x", "price": 1.5},
        {"kind": "item", "title": "x", "price": 100, "list_price": 50},
        {"kind": "item", "title": "x", "price": 100, "stock": -2},
        {"kind": "item", "title": "x", "price": 100, "per_user_limit": 0},
        {"kind": "item", "title": "x", "price": 100, "currency": "yuan"},
        {"kind": "item", "title": "   ", "price": 100},
        {"kind": "ticket", "title": "x", "price": 100},
        {"kind": "membership", "title": "x", "price": 100},
        {"kind": "nonsense", "title": "x", "price": 100},
    ):
        response = await shop.host.client.post("/api/v1/products", json=body)
        assert response.status_code == 422, (body, response.text)


async def test_only_the_host_manages_their_products(shop: Shop, make_user: Any) -> None:
    product = await shop.product()
    viewer, other_host = await make_user(Role.VIEWER), await make_user(Role.HOST)
    assert (
        await viewer.client.post("/api/v1/products", json={"kind": "item", "title": "x", "price": 1})
    ).status_code == 403
    patch = await other_host.client.patch(f"/api/v1/products/{product['id']}", json={"price": 1})
    assert patch.json()["error"]["code"] == "product.not_host"
    ok = await shop.host.client.patch(f"/api/v1/products/{product['id']}", json={"price": 2990, "stock": 5})
    assert (ok.json()["price"], ok.json()["stock"]) == (2990, 5)
    shelf = await other_host.client.post(f"/api/v1/rooms/{shop.room_id}/shelf", json={"product_id": product["id"]})
    assert shelf.status_code == 403
