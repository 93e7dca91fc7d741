"""The Redis fan-out backend against the real Redis: separate server processes serve one room together."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from knowcast import csrf
from knowcast.accounts import service as accounts
from knowcast.accounts.models import Role
from knowcast.accounts.schemas import SignUp
from knowcast.app import build_context
from knowcast.db.types import utcnow
from knowcast.realtime.fanout.redis import RedisFanout
from knowcast.realtime.hub import Hub
from knowcast.rooms import service as rooms
from knowcast.rooms.schemas import RoomCreate
from knowcast.settings import load_settings
from tests.live_server import SECRET, LiveServer, start_server
from tests.realtime.harness import LiveApp, open_viewer
from tests.services import require_redis

pytestmark = pytest.mark.redis


def _prefix() -> str:
    return f"kc:test:{secrets.token_hex(4)}"


async def test_two_hubs_share_a_room_through_redis() -> None:
    url, prefix = require_redis(), _prefix()
    one, two = Hub(RedisFanout(url, prefix)), Hub(RedisFanout(url, prefix))
    await one.start()
    await two.start()
    try:
        two.room(7)
        one.submit_chat(7, {"id": "m1", "user_id": 1, "name": "A", "text": "跨进程", "at": 0})
        await one.flush()
        for _ in range(200):
            if two.room(7).seq:
                break
            await asyncio.sleep(0.01)
        assert two.room(7).seq == one.room(7).seq == 1
        assert [line["text"] for line in two.room(7).chat] == ["跨进程"]
        three = Hub(RedisFanout(url, prefix))  # a process that starts later catches up on the sequence
        await three.start()
        assert (await three.open_room(7)).seq == 1
        await three.stop()
    finally:
        await one.stop()
        await two.stop()


@pytest.fixture(scope="module")
def redis_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer, dict[str, Any]]]:
    """Two `knowcast serve` processes on one database and one Redis, a room, and three signed-in users."""
    url, prefix = require_redis(), _prefix()
    tmp = tmp_path_factory.mktemp("redis-pair")
    shared = tmp / "shared-data"  # one data folder: one key ring for the encrypted personal fields
    env = {"KNOWCAST_REDIS_URL": url, "KNOWCAST_REALTIME_REDIS_PREFIX": prefix, "KNOWCAST_DATA_DIR": str(shared)}
    first = start_server(tmp, **env)
    second = start_server(tmp, database_url=first.database_url, **env)
    try:
        yield first, second, asyncio.run(_people(first))
    finally:
        first.stop()
        second.stop()


async def _people(server: LiveServer) -> dict[str, Any]:
    settings = load_settings(
        database_url=server.database_url, data_dir=server.env["KNOWCAST_DATA_DIR"], secret_key=SECRET
    )
    ctx = build_context(settings)
    tokens: dict[str, Any] = {}
    async with ctx.db.session() as session:
        for name, role in (("host", Role.HOST), ("alice", Role.VIEWER), ("bob", Role.VIEWER)):
            data = SignUp(email=f"{name}@example.com", password="correct horse battery", display_name=name)
            user = await accounts.create_user(session, ctx, data, role)
            tokens[name] = (await accounts.open_session(session, ctx, user, ip=None, user_agent=None)).token
            if role is Role.HOST:
                tokens["room"] = (
                    await rooms.create_room(session, ctx, user, RoomCreate(title="r", scheduled_at=utcnow()))
                ).id
    await ctx.db.dispose()
    return tokens


def _live(server: LiveServer) -> LiveApp:
    return LiveApp(server.url, server.url.replace("http://", "ws://"), None)  # type: ignore[arg-type]


async def test_a_message_sent_through_one_process_reaches_a_viewer_on_another(redis_pair: Any) -> None:
    first, second, people = redis_pair
    room = people["room"]
    watcher = await open_viewer(_live(second), room, join={})
    sender = await open_viewer(_live(first), room, people["alice"], join={})
    await sender.send({"type": "chat", "text": "从一号进程发出"})
    tick = await watcher.chat_text("从一号进程发出")
    await sender.chat_text("从一号进程发出")
    assert tick["seq"] == sender.seqs[-1]  # one sequence for the room, whichever process serves it
    await watcher.close()
    await sender.close()


async def test_resume_moves_across_processes_without_gap_or_duplicate(redis_pair: Any) -> None:
    first, second, people = redis_pair
    room = people["room"]
    keeper = await open_viewer(_live(second), room, join={})  # process two is already serving the room
    roamer = await open_viewer(_live(first), room, join={})
    sender = await open_viewer(_live(first), room, people["bob"], join={})
    await sender.send({"type": "chat", "text": "甲"})
    await roamer.chat_text("甲")
    await keeper.chat_text("甲")
    last = roamer.seqs[-1]
    await roamer.close()
    for text in ("乙", "丙"):
        await sender.send({"type": "chat", "text": text})
        await keeper.chat_text(text)
    back = await open_viewer(_live(second), room, join={"last_seq": last})
    assert back.welcome["resumed"] is True
    await back.chat_text("丙")
    assert back.seqs == list(range(last + 1, last + 1 + len(back.seqs)))
    assert [line["text"] for m in back.received for line in m.get("chat", [])] == ["乙", "丙"]


async def test_moderation_through_one_process_applies_on_the_other(redis_pair: Any) -> None:
    first, second, people = redis_pair
    room = people["room"]
    alice = await open_viewer(_live(second), room, people["alice"], join={})
    nonce = csrf.new_nonce()
    cookies = {"kc_session": people["host"], csrf.COOKIE: nonce}
    headers = {"x-csrf-token": csrf.token_for(SECRET, nonce)}
    async with httpx.AsyncClient(base_url=first.url, cookies=cookies, headers=headers) as host:
        alice_id = await _user_id(first, "alice@example.com")
        response = await host.post(f"/api/v1/rooms/{room}/sanctions", json={"user_id": alice_id, "kind": "ban"})
        assert response.status_code == 201, response.text
    await alice.until(lambda m: any(e["name"] == "chat.user_banned" for e in m.get("events", [])))
    await alice.send({"type": "chat", "text": "我在二号进程"})
    error = await alice.until(lambda m: m.get("type") == "error")
    assert error["code"] == "chat.banned"


async def _user_id(server: LiveServer, email: str) -> int:
    settings = load_settings(
        database_url=server.database_url, data_dir=server.env["KNOWCAST_DATA_DIR"], secret_key=SECRET
    )
    ctx = build_context(settings)
    async with ctx.db.session() as session:
        user = await accounts.find_by_email(session, email)
    await ctx.db.dispose()
    assert user is not None
    return user.id


def test_serve_with_workers_shares_rooms_through_redis(tmp_path: Path) -> None:
    url = require_redis()
    server = start_server(
        tmp_path, args=("--workers", "2"), KNOWCAST_REDIS_URL=url, KNOWCAST_REALTIME_REDIS_PREFIX=_prefix()
    )
    try:
        people = asyncio.run(_people(server))
        asyncio.run(_all_viewers_hear(server, people))
    finally:
        server.stop()


async def _all_viewers_hear(server: LiveServer, people: dict[str, Any]) -> None:
    viewers = [await open_viewer(_live(server), people["room"], join={}) for _ in range(8)]
    sender = await open_viewer(_live(server), people["room"], people["alice"], join={})
    await sender.send({"type": "chat", "text": "两个工作进程"})
    for viewer in viewers:
        await viewer.chat_text("两个工作进程")
    for viewer in [*viewers, sender]:
        await viewer.close()
