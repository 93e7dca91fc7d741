"""A simulated audience for the demo: K viewers on real WebSockets who chat (in Chinese), like and heartbeat.

    await simulate(base_url, room_id, viewers=30, tokens=[...], duration=None, secret_key=...)

Anonymous viewers only watch, like and heartbeat; viewers given a session token also chat, gently (one line
every few seconds across the whole audience), well under the flood rule. Given the server's secret key (to sign
their CSRF tokens), each viewer also reports its view as the room page does (view start, heartbeats with the
time watched, view end, having said yes to analytics), so the demo's dashboard counts its audience, and the
purchases of its signed-in viewers are attributed to their views.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Sequence

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from knowcast import csrf
from knowcast.deps import SESSION_COOKIE
from knowcast.privacy import consent

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


LOST_VIEW = {"sequence.no_view", "sequence.after_end"}


class PageViews:
    """One simulated viewer's analytics, sent as its room page would send them (see static/js/_track.js)."""

    def __init__(self, base_url: str, room_id: int, token: str | None, secret_key: str) -> None:
        nonce = csrf.new_nonce()
        cookies = {csrf.COOKIE: nonce, consent.COOKIE: consent.GRANTED}
        if token:
            cookies[SESSION_COOKIE] = token
        agent = f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) KnowcastDemo/{random.getrandbits(32):x}"
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=10,
            cookies=cookies,
            headers={csrf.HEADER: csrf.token_for(secret_key, nonce), "User-Agent": agent},
        )
        self.room_id = room_id
        self.view_id = ""
        self.last = 0.0

    async def send(self, kind: str, **extra: object) -> dict[str, int]:
        """Send one event; the reasons the server refused it for, if it did."""
        event = {"kind": kind, "room_id": self.room_id, "view_id": self.view_id, **extra}
        try:
            answer = await self.client.post("/api/v1/analytics/events", json={"events": [event]})
            return dict(answer.json().get("reasons") or {})
        except (httpx.HTTPError, ValueError, AttributeError):  # a lost beat costs a little watch time, as in a browser
            return {}

    async def start(self) -> None:
        self.view_id, self.last = f"sim{random.getrandbits(64):x}", asyncio.get_running_loop().time()
        await self.send("view_start", ref="demo")
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            shelf = (await self.client.get(f"/api/v1/rooms/{self.room_id}/shelf")).json()
            for entry in shelf:
                if entry.get("pinned"):  # the pinned card is in sight as the room opens
                    await self.send("impression", product_id=entry["product"]["id"])

    async def click(self, product_id: int) -> None:
        """The viewer taps a product (its card or the shelf) before buying it."""
        if self.view_id:
            await self.send("impression", product_id=product_id)
            await self.send("click", product_id=product_id)

    async def beat(self, kind: str = "heartbeat") -> None:
        now = asyncio.get_running_loop().time()
        watched = min(int((now - self.last) * 1000), 20000)
        self.last = now
        reasons = await self.send(kind, watched_ms=watched)
        if kind == "heartbeat" and LOST_VIEW & reasons.keys():
            await self.start()  # as the page does: the server lost the view (or heard it before the room)

    async def close(self) -> None:
        await self.client.aclose()


async def viewer(url: str, token: str | None, stop: asyncio.Event, chat_every: float, views: PageViews | None) -> None:
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}
    while not stop.is_set():
        try:
            async with connect(url, additional_headers=headers, open_timeout=10) as ws:
                await ws.send(json.dumps({"type": "join", "v": 1, "visitor": f"sim{random.getrandbits(40):x}"}))
                if views:
                    await views.start()
                await _live(ws, token is not None, stop, chat_every, views)
        except (OSError, WebSocketException, TimeoutError):
            await asyncio.sleep(2 + random.random() * 3)  # the server restarted or refused: try again calmly
        finally:
            if views and views.view_id:
                await views.beat("view_end")
                views.view_id = ""
    if views:
        await views.close()


async def _live(
    ws: ClientConnection, chats: bool, stop: asyncio.Event, chat_every: float, views: PageViews | None
) -> None:
    reader = asyncio.create_task(_drain(ws))
    loop = asyncio.get_running_loop()
    next_beat = loop.time() + 6  # the page's first heartbeat (a viewer counts in UV once 1 s is watched)
    next_chat = loop.time() + random.uniform(1, chat_every)
    try:
        while not stop.is_set() and not reader.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), random.uniform(0.5, 3.0))
            if random.random() < 0.4:
                await ws.send(json.dumps({"type": "like", "count": random.randint(1, 5)}))
            if loop.time() >= next_beat:
                await ws.send(json.dumps({"type": "heartbeat"}))
                if views:
                    await views.beat()
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
    secret_key: str | None = None,
    pages: dict[str, PageViews] | None = None,
) -> None:
    """Run the audience until ``duration`` seconds pass (or forever, until cancelled). With ``secret_key`` the
    viewers report their views; ``pages`` then receives the signed-in ones' by session token (demo buyers tap
    through them)."""
    url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/")
    url = f"{url}/api/v1/rooms/{room_id}/live"
    stop = asyncio.Event()
    people = [tokens[i] if i < len(tokens) else None for i in range(viewers)]

    def views(token: str | None) -> PageViews | None:
        if not secret_key:
            return None
        page = PageViews(base_url, room_id, token, secret_key)
        if token and pages is not None:
            pages[token] = page
        return page

    tasks = [asyncio.create_task(viewer(url, token, stop, chat_every, views(token))) for token in people]
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
