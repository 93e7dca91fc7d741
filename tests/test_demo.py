"""`knowcast demo` as a newcomer runs it: a room goes live from the synthetic stream and an audience takes part."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.live_server import free_port, server_env


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


async def watch(url: str, frames: int) -> tuple[int, list[str]]:
    """Join the room like the page does; return the highest viewer count and the chat lines seen."""
    viewers, lines = 0, []
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "join", "v": 1}))
        for _ in range(frames):
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            body = message.get("snapshot", message)
            viewers = max(viewers, int(body.get("viewers", 0) or 0))
            lines += [line["text"] for line in body.get("chat", [])]
    return viewers, lines


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
        viewers, lines = asyncio.run(watch(f"ws://127.0.0.1:{port}/api/v1/rooms/{room['id']}/live", 60))
        assert viewers > 0
        assert lines, "the simulated audience chats"
        printed = (tmp_path / "demo.log").read_text(encoding="utf-8", errors="replace")
        assert "owner@demo.example.com" in printed and "password" in printed
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
