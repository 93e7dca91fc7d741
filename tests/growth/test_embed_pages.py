"""The embeddable room's headers (the browser enforces them: see test_browser.py), allowed sites and their bad
input, the embed code, the first-party buy page, the notifications page and the room page's growth panel."""

from __future__ import annotations

from typing import Any

import pytest

from knowcast.accounts.models import Role
from tests.growth.conftest import go, make_room


async def test_embed_page_names_the_allowed_sites_and_drops_x_frame_options(make_user: Any, client: Any) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    room = await make_room(host)
    page = await client.get(f"/embed/rooms/{room['id']}")
    assert page.status_code == 200
    assert "x-frame-options" not in page.headers
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'self'")
    added = await owner.client.post("/api/v1/embed/sites", json={"origin": " HTTPS://Blog.Example.com/ "})
    assert added.status_code == 201 and added.json()["origin"] == "https://blog.example.com"
    assert (
        await owner.client.post("/api/v1/embed/sites", json={"origin": "https://blog.example.com"})
    ).status_code == 201
    await owner.client.post("/api/v1/embed/sites", json={"origin": "http://localhost:8080"})
    page = await client.get(f"/embed/rooms/{room['id']}")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://blog.example.com http://localhost:8080" in policy
    assert "script-src 'self'" in policy and "x-frame-options" not in page.headers
    other = await client.get(f"/rooms/{room['id']}")  # every other page keeps the site-wide framing rule
    assert (
        other.headers["x-frame-options"] == "SAMEORIGIN"
        and "frame-ancestors 'self';" in other.headers["content-security-policy"]
    )
    sites = (await owner.client.get("/api/v1/embed/sites")).json()
    assert [s["origin"] for s in sites] == ["https://blog.example.com", "http://localhost:8080"]
    assert (await owner.client.delete(f"/api/v1/embed/sites/{sites[0]['id']}")).status_code == 204
    assert (await owner.client.delete(f"/api/v1/embed/sites/{sites[0]['id']}")).status_code == 404
    code = (await host.client.get(f"/api/v1/rooms/{room['id']}/embed-code")).json()
    assert code["url"].endswith(f"/embed/rooms/{room['id']}") and code["html"].startswith("<iframe ")
    assert (await client.get("/embed/rooms/999999")).status_code == 404


@pytest.mark.parametrize(
    ("origin", "code"),
    [
        ("*", "embed.origin_too_broad"),
        ("https:", "embed.origin_too_broad"),
        ("https://*", "embed.origin_too_broad"),
        ("https://*.com", "embed.origin_too_broad"),
        ("blog.example.com", "embed.bad_origin"),
        ("ftp://example.com", "embed.bad_origin"),
        ("https://example.com/path", "embed.bad_origin"),
        ("https://exa mple.com", "embed.bad_origin"),
        ("https://example.com:99999", "embed.bad_origin"),
        ("https://ex*ample.com", "embed.bad_origin"),
        ("https://example.com; script-src *", "embed.bad_origin"),
    ],
)
async def test_sites_that_are_not_one_site_are_refused(make_user: Any, origin: str, code: str) -> None:
    owner = await make_user(Role.OWNER)
    response = await owner.client.post("/api/v1/embed/sites", json={"origin": origin})
    assert response.status_code == 422 and response.json()["error"]["code"] == code


async def test_only_the_owner_configures_sites(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    assert (await host.client.post("/api/v1/embed/sites", json={"origin": "https://a.example"})).status_code == 403
    assert (await host.client.get("/api/v1/embed/sites")).status_code == 403


async def test_embed_shows_the_shelf_and_buys_on_a_first_party_page(make_user: Any, client: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    product = (
        await host.client.post("/api/v1/products", json={"kind": "item", "title": "预算手册", "price": 1990})
    ).json()
    other = (
        await host.client.post("/api/v1/products", json={"kind": "item", "title": "不在货架", "price": 100})
    ).json()
    await host.client.post(f"/api/v1/rooms/{room['id']}/shelf", json={"product_id": product["id"]})
    page = await client.get(f"/embed/rooms/{room['id']}")
    assert "预算手册" in page.text and f"/embed/rooms/{room['id']}/buy/{product['id']}" in page.text
    buy_url = f"/embed/rooms/{room['id']}/buy/{product['id']}"
    assert (await client.get(buy_url)).status_code == 303  # to sign in first
    assert (await viewer.client.get(f"/embed/rooms/{room['id']}/buy/{other['id']}")).status_code == 404
    confirm = await viewer.client.get(buy_url)
    assert confirm.status_code == 200 and "¥19.90" in confirm.text
    paid = await viewer.client.post(buy_url)
    orders = (await viewer.client.get("/api/v1/orders")).json()
    assert [(o["room_id"], o["total"]) for o in orders] == [(room["id"], 1990)]
    assert paid.status_code == 303 and paid.headers["location"] == f"/checkout/{orders[0]['id']}"
    again = await viewer.client.post(buy_url)  # the pending order is reused, not doubled
    assert again.headers["location"] == paid.headers["location"]


async def test_notifications_page_and_room_panel(make_user: Any, client: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    panel = await viewer.client.get(f"/rooms/{room['id']}")
    assert 'data-testid="remind-me"' in panel.text and f"/rooms/{room['id']}/calendar.ics" in panel.text
    assert 'data-testid="nav-notifications"' in panel.text
    await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    await go(host, room["id"], "live")
    assert (await client.get("/notifications")).status_code == 303
    console = await host.client.get(f"/studio/rooms/{room['id']}")
    assert 'data-testid="show-panel"' in console.text and 'data-testid="embed-code"' in console.text
    page = await viewer.client.get("/notifications")
    assert page.status_code == 200
