"""The flash-sale fast path answers like the FastAPI route it stands in front of: same guards, same errors."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from tests.commerce.conftest import Shop


async def test_guards_and_errors(shop: Shop, make_user: Any, client_factory: Any) -> None:
    product = await shop.shelved(stock=10)
    sale = await shop.sale(product["id"], stock=2)
    url = f"/api/v1/flash-sales/{sale['id']}/attempts"
    anonymous = await client_factory().post(url, json={})
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "auth.required")
    buyer = await make_user(Role.VIEWER)
    no_csrf = await buyer.client.post(url, json={}, headers={"x-csrf-token": "forged"})
    assert (no_csrf.status_code, no_csrf.json()["error"]["code"]) == (403, "auth.csrf_failed")
    bad = await buyer.client.post(url, json={"quantity": -1})
    assert bad.status_code == 422 and "quantity" in bad.json()["error"]["fields"]
    broken = await buyer.client.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert broken.json()["error"]["code"] == "request.invalid_json"
    missing = await buyer.client.post("/api/v1/flash-sales/424242/attempts", json={})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "flash.not_found")
    huge = await buyer.client.post(
        url, content=b'{"quantity": 1, "x": "' + b"a" * 5000 + b'"}', headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    won = await buyer.client.post(url, json={})
    assert won.status_code == 200 and won.json()["outcome"] == "won"
    assert won.headers["x-content-type-options"] == "nosniff" and won.headers["x-request-id"]


async def test_attempts_are_counted_in_the_metrics(shop: Shop, make_user: Any, client: Any) -> None:
    product = await shop.shelved(stock=10)
    sale = await shop.sale(product["id"], stock=2)
    buyer = await make_user(Role.VIEWER)
    await buyer.client.post(f"/api/v1/flash-sales/{sale['id']}/attempts", json={})
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/flash-sales/{sale_id}/attempts",status="200"' in metrics


async def test_the_route_behind_it_is_documented(client: Any) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert "post" in paths["/api/v1/flash-sales/{sale_id}/attempts"]
