"""Fixtures for the real-time plane: a live server in the test's loop, a public room and signed-in members."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from knowcast.accounts.models import Role
from tests.realtime.harness import LiveApp, serve


@pytest.fixture
async def live(app: Any) -> AsyncIterator[LiveApp]:
    async for server in serve(app):
        yield server


@pytest.fixture
async def host(make_user: Any) -> Any:
    return await make_user(Role.HOST, name="主播")


@pytest.fixture
async def room(host: Any) -> dict[str, Any]:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await host.client.post("/api/v1/rooms", json={"title": "直播间", "scheduled_at": when})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
