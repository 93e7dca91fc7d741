"""Webhook endpoints through the API: who may manage them, URL checks with codes, secrets (random per endpoint,
stored encrypted, shown once, rolled), ping, the delivery log with paging and filters."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from knowcast.accounts.models import Role
from knowcast.context import AppContext
from knowcast.integrations import signing, webhooks
from knowcast.integrations.models import DeliveryStatus, WebhookEndpoint
from knowcast.privacy import crypto, rotation
from tests.integrations.conftest import deliveries, eventually, new_endpoint, new_token
from tests.integrations.receiver import Receiver
from tests.integrations.test_tokens import _database_holds

PUBLIC_URL = "https://hooks.example.com/knowcast"


async def test_only_the_owner_manages_webhooks(make_user: Any, client: Any) -> None:
    body = {"url": PUBLIC_URL, "events": ["room.live"]}
    assert (await client.post("/api/v1/webhooks", json=body)).status_code == 401
    for role in (Role.VIEWER, Role.MODERATOR, Role.HOST):
        member = await make_user(role)
        response = await member.client.post("/api/v1/webhooks", json=body)
        assert response.status_code == 403 and response.json()["error"]["code"] == "auth.forbidden"
        assert (await member.client.get("/api/v1/webhooks/deliveries")).status_code == 403


async def test_secret_is_shown_once_random_and_stored_only_encrypted(make_user: Any, ctx: AppContext) -> None:
    owner = await make_user(Role.OWNER)
    created = await new_endpoint(owner, PUBLIC_URL, "room.live", "order.paid", "room.live")
    other = await new_endpoint(owner, PUBLIC_URL, "room.live")
    assert created["secret"].startswith("whsec_") and created["events"] == ["room.live", "order.paid"]
    assert created["secret"] != other["secret"] and len(created["secret"]) >= len("whsec_") + 43  # 256 bits each
    listed = (await owner.client.get("/api/v1/webhooks")).json()
    shown = (await owner.client.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert "secret" not in listed[0] and "secret" not in shown
    assert await _database_holds(ctx, created["secret"][len("whsec_") :]) is False
    async with ctx.db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret FROM webhook_endpoints ORDER BY id"))).scalars().all()
    assert all(value.startswith("kc1.") for value in stored)  # the field cipher's format, with its key id
    async with ctx.db.session() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert row is not None and webhooks.secret_of(row) == created["secret"]


async def test_the_secret_owes_nothing_to_the_apps_secret_key(make_user: Any, ctx: AppContext) -> None:
    """Changing KNOWCAST_SECRET_KEY used to change every endpoint's secret; now it changes none."""
    owner = await make_user(Role.OWNER)
    created = await new_endpoint(owner, PUBLIC_URL, "room.live")
    ctx.settings.secret_key = "a-completely-different-secret-key-for-this-test"
    async with ctx.db.session() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert row is not None and webhooks.secret_of(row) == created["secret"]


async def test_key_rotation_reencrypts_webhook_secrets(make_user: Any, ctx: AppContext, tmp_path: Path) -> None:
    owner = await make_user(Role.OWNER)
    created = await new_endpoint(owner, PUBLIC_URL, "room.live")
    ring = crypto.cipher().ring
    ring.path = tmp_path / "keyring.json"
    seen: list[tuple[str, int, int]] = []
    new = await rotation.rotate(ctx.db.engine, ring, retire=True, progress=lambda *a: seen.append(a))
    assert ("webhook_endpoints", 1, 1) in seen
    async with ctx.db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret FROM webhook_endpoints"))).scalar_one()
    assert crypto.FieldCipher.key_id(stored) == new.primary
    async with ctx.db.session() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert row is not None and webhooks.secret_of(row) == created["secret"]


async def test_rolling_the_secret_signs_with_the_new_one(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    owner = await make_user(Role.OWNER)
    endpoint = await new_endpoint(owner, receiver.url, "room.live")
    rolled = (await owner.client.post(f"/api/v1/webhooks/{endpoint['id']}/secret")).json()
    assert rolled["secret"] != endpoint["secret"]
    pinged = await owner.client.post(f"/api/v1/webhooks/{endpoint['id']}/ping")
    assert pinged.status_code == 202 and pinged.json()["event_name"] == "webhook.ping"
    await eventually(lambda: _received(receiver), "the ping arrives")
    request = receiver.requests[0]
    header, now = request.headers["knowcast-signature"], int(time.time())
    assert signing.verify(rolled["secret"], header, request.body, now)
    assert not signing.verify(endpoint["secret"], header, request.body, now)
    assert json.loads(request.body)["data"] == {"endpoint_id": endpoint["id"]}


async def _received(receiver: Receiver) -> bool:
    return bool(receiver.requests)


async def test_a_token_with_webhooks_manage_can_manage(make_user: Any, bearer: Any) -> None:
    owner = await make_user(Role.OWNER)
    client = bearer((await new_token(owner, "webhooks:manage"))["token"])
    created = await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL, "events": ["order.paid"]})
    assert created.status_code == 201, created.text
    assert (await client.get("/api/v1/webhooks/events")).json() == [
        "room.live",
        "room.ended",
        "order.paid",
        "order.refunded",
        "payment.mismatch",
    ]
    reader = bearer((await new_token(owner, "rooms:read"))["token"])
    refused = await reader.get("/api/v1/webhooks")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "token.scope_missing"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/x", "webhook.url_scheme"),
        ("javascript:alert(1)", "webhook.url_scheme"),
        ("example.com/hook", "webhook.url_scheme"),
        ("https://", "webhook.url_invalid"),
        ("https://exa mple.com/", "webhook.url_invalid"),
        ("https://example.com:99999/", "webhook.url_invalid"),
        ("https://example.com:port/", "webhook.url_invalid"),
        ("https://[::1/", "webhook.url_invalid"),
        ("https://example.com/#frag", "webhook.url_invalid"),
        ("https://user:pw@example.com/", "webhook.url_credentials"),
        ("https://example.com/\x00", "request.invalid"),  # control characters: refused by every schema
        ("   ", "webhook.url_invalid"),
    ],
)
async def test_bad_urls_are_refused_with_codes(make_user: Any, url: str, code: str) -> None:
    owner = await make_user(Role.OWNER)
    response = await owner.client.post("/api/v1/webhooks", json={"url": url, "events": ["room.live"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert "url" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://printer.local/",
        "http://0.0.0.0/",
    ],
)
async def test_private_destinations_are_refused_outside_development(make_user: Any, ctx: AppContext, url: str) -> None:
    ctx.settings.webhook_allow_private = False
    owner = await make_user(Role.OWNER)
    response = await owner.client.post("/api/v1/webhooks", json={"url": url, "events": ["room.live"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "webhook.url_private"


async def test_a_name_resolving_to_a_private_address_is_refused_at_send_time(
    make_user: Any, ctx: AppContext, receiver: Receiver
) -> None:
    """A URL saved while private destinations were allowed is checked again before each attempt."""
    owner = await make_user(Role.OWNER)
    endpoint = await new_endpoint(owner, receiver.url, "room.live")
    ctx.settings.webhook_allow_private = False
    ctx.settings.webhook_max_attempts = 1
    await owner.client.post(f"/api/v1/webhooks/{endpoint['id']}/ping")

    async def failed() -> bool:
        rows = await deliveries(ctx)
        return bool(rows) and rows[0].status is DeliveryStatus.FAILED

    await eventually(failed, "the attempt is refused")
    [row] = await deliveries(ctx)
    assert row.last_error is not None and "private" in row.last_error
    assert receiver.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": PUBLIC_URL, "events": []},
        {"url": PUBLIC_URL, "events": ["room.exploded"]},
        {"url": PUBLIC_URL, "events": "room.live"},
        {"url": PUBLIC_URL},
        {"events": ["room.live"]},
        {"url": "https://e.com/" + "x" * 2000, "events": ["room.live"]},
        {"url": 42, "events": ["room.live"]},
        {"url": PUBLIC_URL, "events": ["room.live"], "description": "d" * 201},
    ],
)
async def test_bad_endpoint_bodies_get_codes(make_user: Any, body: dict[str, Any]) -> None:
    owner = await make_user(Role.OWNER)
    response = await owner.client.post("/api/v1/webhooks", json=body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "request.invalid"


async def test_update_and_delete(make_user: Any, ctx: AppContext) -> None:
    owner = await make_user(Role.OWNER)
    endpoint = await new_endpoint(owner, PUBLIC_URL, "room.live")
    path = f"/api/v1/webhooks/{endpoint['id']}"
    updated = await owner.client.patch(path, json={"events": ["order.refunded"], "description": " books "})
    assert updated.json()["events"] == ["order.refunded"] and updated.json()["description"] == "books"
    bad = await owner.client.patch(path, json={"url": "gopher://x"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "webhook.url_scheme"
    await owner.client.post(f"{path}/ping")
    assert (await owner.client.delete(path)).status_code == 204
    assert (await owner.client.get(path)).json()["error"]["code"] == "webhook.not_found"
    assert (await owner.client.delete(path)).status_code == 404
    assert await deliveries(ctx) == []  # the log goes with the endpoint


async def test_delivery_log_pages_and_filters(make_user: Any, receiver: Receiver, ctx: AppContext) -> None:
    owner = await make_user(Role.OWNER)
    first = await new_endpoint(owner, receiver.url, "room.live")
    second = await new_endpoint(owner, receiver.url, "room.live")
    for endpoint in (first, first, first, second):
        await owner.client.post(f"/api/v1/webhooks/{endpoint['id']}/ping")
    await eventually(lambda: _all_done(ctx, 4), "four pings delivered")
    page = (await owner.client.get("/api/v1/webhooks/deliveries", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_before"] == page["items"][-1]["id"]
    rest = (await owner.client.get("/api/v1/webhooks/deliveries", params={"before": page["next_before"]})).json()
    assert len(rest["items"]) == 2 and rest["next_before"] is None
    mine = (await owner.client.get("/api/v1/webhooks/deliveries", params={"endpoint_id": first["id"]})).json()
    assert len(mine["items"]) == 3
    item = mine["items"][0]
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("succeeded", 1, 200)
    assert item["response_snippet"] == "answered 200" and item["next_attempt_at"] is None
    failed = (await owner.client.get("/api/v1/webhooks/deliveries", params={"status": "failed"})).json()
    assert failed["items"] == []
    one = (await owner.client.get(f"/api/v1/webhooks/deliveries/{item['id']}")).json()
    assert one["id"] == item["id"]


async def _all_done(ctx: AppContext, n: int) -> bool:
    rows = await deliveries(ctx)
    return len(rows) == n and all(row.status is DeliveryStatus.SUCCEEDED for row in rows)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"status": "lost"}, {"before": -1}, {"endpoint_id": "x"}, {"before": 2**70}],
)
async def test_bad_log_queries_get_codes(make_user: Any, params: dict[str, Any]) -> None:
    owner = await make_user(Role.OWNER)
    response = await owner.client.get("/api/v1/webhooks/deliveries", params=params)
    assert response.status_code == 422 and response.json()["error"]["code"] == "request.invalid"


async def test_missing_things_are_404_with_codes(make_user: Any) -> None:
    owner = await make_user(Role.OWNER)
    for method, path, code in (
        ("GET", "/api/v1/webhooks/999", "webhook.not_found"),
        ("PATCH", "/api/v1/webhooks/999", "webhook.not_found"),
        ("POST", "/api/v1/webhooks/999/ping", "webhook.not_found"),
        ("POST", "/api/v1/webhooks/999/secret", "webhook.not_found"),
        ("GET", "/api/v1/webhooks/deliveries/999", "webhook.delivery_not_found"),
        ("POST", "/api/v1/webhooks/deliveries/999/redeliver", "webhook.delivery_not_found"),
    ):
        response = await owner.client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404 and response.json()["error"]["code"] == code, path
