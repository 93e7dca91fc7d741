"""`knowcast demo` as a newcomer runs it: a room goes live from the synthetic stream with a stocked shelf, and its
simulated audience chats, likes and buys (the room shows "X 买了《…》")."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from knowcast import csrf
from tests.live_server import SECRET, free_port, server_env


def wait_for(check: object, seconds: float = 90) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = check()  # type: ignore[operator]
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("the demo did not get there")


@dataclass
class Seen:
    viewers: int = 0
    likes: int = 0
    lines: list[str] = field(default_factory=list)
    bought: list[str] = field(default_factory=list)  # the room's "X 买了《…》" lines (order.announced)

    def add(self, body: dict[str, Any]) -> None:
        self.viewers = max(self.viewers, int(body.get("viewers", 0) or 0))
        self.likes = max(self.likes, int(body.get("likes", 0) or 0))
        self.lines += [line["text"] for line in body.get("chat", []) if not line.get("system")]
        self.bought += [line["text"] for line in body.get("chat", []) if line.get("event") == "order.announced"]
        for event in body.get("events", []):
            if event.get("name") == "order.announced":
                self.bought.append(event["data"]["text"])


def _owners_board(base: str, room_id: int, printed: str) -> dict[str, Any]:
    """The live dashboard as the demo's owner sees it, signed in with the password the demo printed."""
    password = printed.split("password", 1)[1].split()[0]
    with httpx.Client(base_url=base, timeout=10) as client:
        client.get("/")
        headers = {csrf.HEADER: csrf.token_for(SECRET, client.cookies[csrf.COOKIE])}
        signin = {"email": "owner@demo.example.com", "password": password}
        client.post("/api/v1/auth/signin", json=signin, headers=headers).raise_for_status()
        answer = client.get(f"/api/v1/analytics/rooms/{room_id}/live")
        answer.raise_for_status()
        return dict(answer.json())


async def watch(url: str, seconds: float = 150) -> Seen:
    """Join the room like the page does, until the audience has chatted, liked and bought (or time is up)."""
    seen = Seen()
    deadline = time.monotonic() + seconds
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "join", "v": 1}))
        while time.monotonic() < deadline and not (seen.lines and seen.likes and seen.bought and seen.viewers):
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            seen.add(message.get("snapshot", message))
    return seen


def test_demo_room_is_live_with_an_audience(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", port)
    env["KNOWCAST_RTMP_PORT"] = str(free_port())
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "knowcast", "demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        live = wait_for(lambda: httpx.get(f"{base}/api/v1/rooms", timeout=2).json()["live"])
        room = live[0]  # type: ignore[index]
        assert room["title"].startswith("30 天学会理财")
        shelf = httpx.get(f"{base}/api/v1/rooms/{room['id']}/shelf", timeout=5).json()
        kinds = sorted(entry["product"]["kind"] for entry in shelf)
        assert kinds == ["consultation", "course", "file"], "the demo room's shelf is stocked"
        assert [entry["product"]["kind"] for entry in shelf if entry["pinned"]] == ["course"]
        playlist = wait_for(
            lambda: httpx.get(f"{base}/media/rooms/{room['id']}/live.m3u8", timeout=2).status_code == 200
        )
        assert playlist
        seen = asyncio.run(watch(f"ws://127.0.0.1:{port}/api/v1/rooms/{room['id']}/live"))
        assert seen.viewers > 0
        assert seen.lines, "the simulated audience chats"
        assert seen.likes > 0, "the simulated audience likes"
        assert seen.bought and "买了" in seen.bought[0], "the simulated audience buys, and the room says so"
        printed = (tmp_path / "demo.log").read_text(encoding="utf-8", errors="replace")
        assert "owner@demo.example.com" in printed and "password" in printed
        counted = wait_for(lambda: _owners_board(base, room["id"], printed)["uv"], seconds=60)
        assert counted, "the audience's views count on the dashboard (a view is in UV once 1 s is watched)"
        paid = wait_for(lambda: _owners_board(base, room["id"], printed)["orders_paid"], seconds=60)
        assert paid, "the audience's purchases are attributed to their views"

        def funnel() -> dict[str, int]:
            return {step["step"]: step["viewers"] for step in _owners_board(base, room["id"], printed)["funnel"]}

        wait_for(lambda: funnel()["paid"], seconds=60)  # the buyer's paid order reaches their view's funnel
        steps = funnel()
        assert steps["saw"] >= steps["clicked"] >= steps["paid"] >= 1, steps
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
