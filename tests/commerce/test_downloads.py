"""Bought files are served as attachments no browser runs on the shop's origin (#14 point 6)."""

from __future__ import annotations

from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.errors import ConfigError
from knowcast.settings import Settings, load_settings
from tests.commerce.conftest import Shop, pay

FILES = [
    ("page.html", b"<script>fetch('/api/v1/auth/me')</script>", "text/html", "application/octet-stream"),
    ("app.js", b"alert(document.cookie)", "application/javascript", "application/octet-stream"),
    (
        "logo.svg",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        "image/svg+xml",
        "application/octet-stream",
    ),
    ("book.pdf", b"%PDF-1.4 hello", "application/pdf", "application/pdf"),
    ("notes.txt", "笔记".encode(), "text/plain", "text/plain; charset=utf-8"),
]


async def bought_files(shop: Shop, make_user: Any) -> tuple[Any, list[dict[str, Any]]]:
    buyer = await make_user(Role.VIEWER)
    product = await shop.product(kind="file", title="资料包", price=990)
    for name, data, declared, _ in FILES:
        upload = await shop.host.client.post(
            f"/api/v1/products/{product['id']}/files", files={"file": (name, data, declared)}
        )
        assert upload.status_code == 201, upload.text
    order = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})
    await pay(buyer.client, order.json()["id"])
    links = (await buyer.client.get(f"/api/v1/library/files/{product['id']}")).json()
    return buyer, sorted(links, key=lambda link: link["id"])


async def test_uploaded_files_are_attachments_of_a_safe_type_in_a_sandbox(
    shop: Shop, make_user: Any, webhook_server: str, client: Any
) -> None:
    _, links = await bought_files(shop, make_user)
    assert [link["filename"] for link in links] == [name for name, *_ in FILES]
    for link, (name, data, _, served_as) in zip(links, FILES, strict=True):
        assert link["url"].startswith("/downloads/")  # no download origin set: the site's own
        answer = await client.get(link["url"])
        assert answer.status_code == 200 and answer.content == data, name
        assert answer.headers["content-type"] == served_as, name
        assert answer.headers["content-disposition"].startswith("attachment"), name
        assert answer.headers["content-security-policy"] == "sandbox", name
        assert answer.headers["x-content-type-options"] == "nosniff", name


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.model_copy(update={"download_url": getattr(request, "param", "")})


@pytest.mark.parametrize("settings", ["https://dl.example.com"], indirect=True)
async def test_a_download_origin_serves_the_files_and_the_site_sends_people_there(
    shop: Shop, make_user: Any, webhook_server: str, client: Any
) -> None:
    _, links = await bought_files(shop, make_user)
    url = links[0]["url"]
    assert url.startswith("https://dl.example.com/downloads/")
    path = url.removeprefix("https://dl.example.com")
    moved = await client.get(path)  # asked for on the site's own origin
    assert moved.status_code == 307 and moved.headers["location"] == url
    served = await client.get(path, headers={"host": "dl.example.com"})
    assert served.status_code == 200 and served.headers["content-security-policy"] == "sandbox"
    page = await client.get("/")
    assert "media-src 'self' https://dl.example.com" in page.headers["content-security-policy"]


def test_the_download_origin_must_be_an_origin() -> None:
    for bad in ("dl.example.com", "javascript:alert(1)", "https://dl.example.com/files"):
        with pytest.raises(ConfigError):
            load_settings(download_url=bad)
    assert load_settings(download_url="https://dl.example.com").download_url == "https://dl.example.com"
