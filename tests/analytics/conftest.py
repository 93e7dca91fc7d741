"""Analytics fixtures: a host with a room, a browser that sends events the way the room page does, flushing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.bus import Event
from knowcast.context import AppContext
from tests.commerce.conftest import shop, webhook_server  # noqa: F401  (commerce fixtures, reused)
from tests.conftest import Client, Member


@dataclass
class Browser:
    """A viewer's page: one view id, events posted to the intake like static/js/_track.js does."""

    client: Client
    room_id: int
    agent: str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile"
    view_id: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    async def send(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"kind": kind, "room_id": self.room_id, "view_id": self.view_id, **fields}
        response = await self.client.post(
            "/api/v1/analytics/events", json={"events": [event]}, headers={"user-agent": self.agent}
        )
        assert response.status_code == 202, response.text
        return dict(response.json())


@dataclass
class Stage:
    host: Member
    room_id: int
    ctx: AppContext

    @property
    def runtime(self) -> AnalyticsRuntime:
        return self.ctx.runtime(AnalyticsRuntime)

    async def live(self) -> dict[str, Any]:
        response = await self.host.client.get(f"/api/v1/analytics/rooms/{self.room_id}/live")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def go_live(self) -> None:
        await self.transition("live")

    async def transition(self, to: str) -> None:
        response = await self.host.client.post(f"/api/v1/rooms/{self.room_id}/transitions", json={"to": to})
        assert response.status_code == 200, response.text

    async def flush(self) -> None:
        await self.runtime.settle()
        while await self.runtime.flush():
            pass

    async def publish(self, name: str, **data: Any) -> None:
        """A bus event as another domain would publish it after its commit."""
        await self.ctx.bus.publish(Event(name, {"room_id": self.room_id, **data}))
        await self.runtime.settle()

    def backdate(self, page: Browser, seconds: float) -> None:
        """Pretend the page's last heartbeat was ``seconds`` ago (tests never sleep through 15 s beats)."""
        track = self.runtime.intake.tracks[page.view_id]  # type: ignore[union-attr]
        track.last_beat -= timedelta(seconds=seconds)

    async def watch(self, page: Browser, seconds: float = 15) -> None:
        """The page heartbeats after ``seconds`` of watching: from then on its visitor is a viewer (UV ≥ 1 s)."""
        self.backdate(page, seconds)
        assert (await page.send("heartbeat", watched_ms=int(seconds * 1000)))["accepted"] == 1


async def new_room(host: Member, **fields: Any) -> int:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await host.client.post("/api/v1/rooms", json={"title": "理财入门", "scheduled_at": when, **fields})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
async def stage(make_user: Any, ctx: AppContext) -> Stage:
    host: Member = await make_user(Role.HOST)
    return Stage(host=host, room_id=await new_room(host), ctx=ctx)
