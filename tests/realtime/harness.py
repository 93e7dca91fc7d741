"""A real uvicorn server for the app fixture, in the test's own event loop, and a WebSocket viewer for it.

Serving in-process keeps the hub reachable from the test (to flush a tick or look at a room) while every
frame still crosses a real socket, exactly as `knowcast serve` would serve it.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from knowcast.web.front import server_options
from tests.live_server import free_port

Message = dict[str, Any]


@dataclass
class LiveApp:
    base: str
    ws_base: str
    ctx: AppContext

    def ws_url(self, room_id: int) -> str:
        return f"{self.ws_base}/api/v1/rooms/{room_id}/live"


async def serve(app: Any, **options: Any) -> AsyncIterator[LiveApp]:
    """The app on a free port, served as `knowcast serve` serves it (``options`` override uvicorn's)."""
    port = free_port()
    settings = {**server_options(), **options}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", **settings)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    yield LiveApp(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app.state.ctx)
    server.should_exit = True
    await task


@dataclass
class Viewer:
    """One WebSocket client that remembers every frame it received, in order."""

    ws: ClientConnection
    received: list[Message] = field(default_factory=list)
    welcome: Message = field(default_factory=dict)

    @property
    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.received if "seq" in m and m.get("type") == "tick"]

    async def send(self, message: Message) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = 10) -> Message:
        message: Message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.received.append(message)
        return message

    async def until(self, check: Callable[[Message], bool], timeout: float = 10) -> Message:
        """Read frames until one passes ``check`` (the test fails after ``timeout`` seconds without one)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no matching frame; got {self.received[-5:]}")
            message = await self.recv(left)
            if check(message):
                return message

    async def chat_text(self, text: str) -> Message:
        return await self.until(lambda m: any(line.get("text") == text for line in m.get("chat", ())))

    async def close(self) -> None:
        await self.ws.close()


async def open_viewer(
    live: LiveApp, room_id: int, token: str | None = None, join: Message | None = None, **headers: str
) -> Viewer:
    extra = dict(headers)
    if token:
        extra["Cookie"] = f"{SESSION_COOKIE}={token}"
    ws = await connect(live.ws_url(room_id), additional_headers=extra, max_size=2**22)
    viewer = Viewer(ws)
    if join is not None:
        await viewer.send({"type": "join", "v": 1, **join})
        viewer.welcome = await viewer.until(lambda m: m.get("type") in ("welcome", "error"))
    return viewer


def token_of(member: Any) -> str:
    return str(member.client.cookies.get(SESSION_COOKIE))


def client_frame(payload: bytes, opcode: int = 0x1, *, fin: bool = True, masked: bool = True, rsv: int = 0) -> bytes:
    """A client frame as a browser sends it (masked), or broken on purpose."""
    head = (0x80 if fin else 0) | rsv | opcode
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        header = struct.pack("!BB", head, mask_bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", head, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", head, mask_bit | 127, size)
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
