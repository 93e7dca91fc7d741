"""Commerce fixtures: a host with a room (``shop``), products, and a real HTTP server for webhooks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.context import AppContext
from tests.conftest import Client, Member
from tests.live_server import free_port
from tests.services import POSTGRES_URL, postgres_database, unavailable


@dataclass
class Shop:
    host: Member
    room_id: int

    async def product(self, **fields: Any) -> dict[str, Any]:
        body = {"kind": "item", "title": "Budget workbook", "price": 1990, **fields}
        response = await self.host.client.post("/api/v1/products", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def shelved(self, **fields: Any) -> dict[str, Any]:
        product = await self.product(**fields)
        response = await self.host.client.post(
            f"/api/v1/rooms/{self.room_id}/shelf", json={"product_id": product["id"]}
        )
        assert response.status_code == 201, response.text
        return product

    async def sale(self, product_id: int, **fields: Any) -> dict[str, Any]:
        body = {"product_id": product_id, "price": 990, "stock": 5, "per_user_limit": 1, **fields}
        response = await self.host.client.post(f"/api/v1/rooms/{self.room_id}/flash-sales", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())


async def new_room(host: Member, **fields: Any) -> int:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await host.client.post("/api/v1/rooms", json={"title": "Money 101", "scheduled_at": when, **fields})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
async def shop(make_user: Any) -> Shop:
    host: Member = await make_user(Role.HOST)
    return Shop(host=host, room_id=await new_room(host))


@pytest.fixture
def seen(ctx: AppContext) -> list[Event]:
    """Every bus event the app publishes from now on, in order."""
    events: list[Event] = []

    async def keep(event: Event) -> None:
        events.append(event)

    ctx.bus.subscribe("*", keep)
    return events


@pytest.fixture
async def webhook_server(app: Any, ctx: AppContext) -> AsyncIterator[str]:
    """The same app served over real HTTP on loopback, so the sandbox's webhooks really travel over HTTP."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    ctx.settings.payment_webhook_url = url
    yield url
    server.should_exit = True
    await task


async def wait_for_state(client: Client, order_id: int, states: set[str], attempts: int = 200) -> dict[str, Any]:
    """Poll the order until its state is one of ``states`` (bounded; no timing is asserted)."""
    body: dict[str, Any] = {}
    for _ in range(attempts):
        body = (await client.get(f"/api/v1/orders/{order_id}")).json()
        if body.get("state") in states:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} stayed {body.get('state')}")


async def checkout_path(client: Client, order_id: int) -> str:
    response = await client.post(f"/api/v1/orders/{order_id}/checkout")
    assert response.status_code == 200, response.text
    url = response.json()["checkout_url"]
    match = re.search(r"/sandbox/checkout/[\w-]+", url)
    assert match, url
    return match.group(0)


async def sandbox_action(client: Client, path: str, action: str) -> Any:
    page = await client.get(path)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return await client.post(path, data={"action": action, "csrf_token": token.group(1)})


async def pay(client: Client, order_id: int) -> dict[str, Any]:
    """Pay through the sandbox's hosted page; its signed webhook comes back over HTTP and marks it paid."""
    path = await checkout_path(client, order_id)
    response = await sandbox_action(client, path, "pay")
    assert response.status_code == 303, response.text
    return await wait_for_state(client, order_id, {"paid", "fulfilled"})


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """A database of its own on the test server, so two server processes can share it."""
    if not POSTGRES_URL:
        unavailable("KNOWCAST_TEST_DATABASE_URL is not set (PostgreSQL)")
    with postgres_database("kc_flash") as url:
        yield url
