"""A simulated audience for the demo: K viewers on real WebSockets who chat (in Chinese), like and heartbeat.

    await simulate(base_url, room_id, viewers=30, tokens=[...], duration=None)

Anonymous viewers only watch, like and heartbeat; viewers given a session token also chat, gently (one line
every few seconds across the whole audience), well under the flood rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Sequence

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

LINES = (
    "主播讲得太清楚了！",
    "指数基金和主动基金怎么选？",
    "已下单，期待课程",
    "每个月存多少比较合适？",
    "刚进来，现在讲到哪了？",
    "这个优惠还有吗？",
    "老师能再讲一遍复利吗",
    "学到了，谢谢分享",
    "有没有适合新手的书推荐？",
    "支持支持！",
    "定投要坚持多久？",
    "信用卡分期划算吗？",
)


async def viewer(url: str, token: str | None, stop: asyncio.Event, chat_every: float) -> None:
    headers = {"Cookie": f"kc_session={token}"} if token else {}
    while not stop.is_set():
        try:
            async with connect(url, additional_headers=headers, open_timeout=10) as ws:
                await ws.send(json.dumps({"type": "join", "v": 1, "visitor": f"sim{random.getrandbits(40):x}"}))
                await _live(ws, token is not None, stop, chat_every)
        except (OSError, WebSocketException, TimeoutError):
            await asyncio.sleep(2 + random.random() * 3)  # the server restarted or refused: try again calmly


async def _live(ws: ClientConnection, chats: bool, stop: asyncio.Event, chat_every: float) -> None:
    reader = asyncio.create_task(_drain(ws))
    loop = asyncio.get_running_loop()
    next_beat = next_chat = loop.time() + random.uniform(1, chat_every)
    try:
        while not stop.is_set() and not reader.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), random.uniform(0.5, 3.0))
            if random.random() < 0.4:
                await ws.send(json.dumps({"type": "like", "count": random.randint(1, 5)}))
            if loop.time() >= next_beat:
                await ws.send(json.dumps({"type": "heartbeat"}))
                next_beat += 15
            if chats and loop.time() >= next_chat:
                await ws.send(json.dumps({"type": "chat", "text": random.choice(LINES)}))
                next_chat = loop.time() + random.uniform(0.5, 1.5) * chat_every
    finally:
        reader.cancel()


async def _drain(ws: ClientConnection) -> None:
    async for _message in ws:  # read everything, like a real viewer: a client that stops reading is cut off
        pass


async def simulate(
    base_url: str,
    room_id: int,
    viewers: int = 30,
    tokens: Sequence[str] = (),
    duration: float | None = None,
    chat_every: float = 20.0,
) -> None:
    """Run the audience until ``duration`` seconds pass (or forever, until cancelled)."""
    url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/")
    url = f"{url}/api/v1/rooms/{room_id}/live"
    stop = asyncio.Event()
    people = [tokens[i] if i < len(tokens) else None for i in range(viewers)]
    tasks = [asyncio.create_task(viewer(url, token, stop, chat_every)) for token in people]
    try:
        if duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
