"""Helpers for the integrations tests: API tokens made through the API, clients that carry only a bearer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from knowcast.context import AppContext
from knowcast.integrations.models import WebhookDelivery
from knowcast.settings import Settings
from tests.integrations.receiver import Receiver

WHEN = (datetime.now(UTC) + timedelta(days=1)).isoformat()
ROOM = {"title": "Webhooks 101", "scheduled_at": WHEN}


async def new_token(member: Any, *scopes: str, **extra: Any) -> dict[str, Any]:
    response = await member.client.post("/api/v1/tokens", json={"name": "ci", "scopes": list(scopes), **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def bearer(client_factory: Any) -> Any:
    """bearer(token) → a client with no cookies and no CSRF token, only ``Authorization: Bearer``."""

    def make(token: str) -> Any:
        client = client_factory(with_csrf=False)
        client.headers["authorization"] = f"Bearer {token}"
        return client

    return make


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Fast retries, so that a test sees backoff and recovery in well under a second of real time."""
    fast = {
        "webhook_backoff_seconds": 0.05,
        "webhook_backoff_max_seconds": 0.4,
        "webhook_max_attempts": 30,
        "webhook_poll_seconds": 0.2,
        "webhook_timeout_seconds": 5.0,
    }
    return settings.model_copy(update=fast)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = await Receiver().start()
    yield running
    await running.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 20.0) -> None:
    """Wait until ``check`` holds (polling); fail with ``what`` if it never does. Asserts no duration."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.02)


async def deliveries(ctx: AppContext) -> list[WebhookDelivery]:
    async with ctx.db.session() as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def new_endpoint(owner: Any, url: str, *events: str) -> dict[str, Any]:
    response = await owner.client.post("/api/v1/webhooks", json={"url": url, "events": list(events)})
    assert response.status_code == 201, response.text
    return dict(response.json())
