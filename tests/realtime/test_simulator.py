"""The demo's simulated audience joins a room over real WebSockets and chats, likes and heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from knowcast.realtime.simulator import LINES, simulate
from tests.realtime.harness import LiveApp, open_viewer, token_of


async def test_the_simulated_audience_chats_and_likes(live: LiveApp, room: Any, make_user: Any) -> None:
    watcher = await open_viewer(live, room["id"], join={})
    tokens = [token_of(await make_user()) for _ in range(3)]
    audience = asyncio.create_task(simulate(live.base, room["id"], viewers=5, tokens=tokens, chat_every=1.0))
    try:
        tick = await watcher.until(lambda m: bool(m.get("chat")), timeout=30)
        assert tick["chat"][0]["text"] in LINES
        await watcher.until(lambda m: m.get("likes", 0) > 0, timeout=30)
    finally:
        audience.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await audience
