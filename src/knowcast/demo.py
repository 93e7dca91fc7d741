"""``knowcast demo``: an owner, a room that is live from a synthetic stream with a stocked shelf, and an audience
that takes part.

prepare_demo() runs before the server starts (owner, room, shelf: knowcast.demo_shop); the DemoAudience component
runs inside the server and, once it listens, connects simulated viewers over real WebSockets (they chat and like)
and lets some of them buy from the shelf over the HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast import tasks
from knowcast.accounts import service as accounts
from knowcast.accounts.models import Role, User
from knowcast.accounts.passwords import Passwords
from knowcast.accounts.schemas import SignUp
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.demo_shop import DemoBuyers, stock_shelf
from knowcast.realtime.simulator import PageViews, simulate
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room
from knowcast.rooms.schemas import RoomCreate
from knowcast.rooms.states import RoomState

log = logging.getLogger(__name__)
DEMO_EMAIL = "owner@demo.example.com"
AUDIENCE_NAMES = ("小林", "Amy", "阿强", "思思", "老王", "Kevin", "小雨", "晓峰", "Lily", "大鹏", "可可", "Tom")


@dataclass(frozen=True)
class Demo:
    email: str
    password: str
    credentials_file: Path
    room_id: int


async def prepare_demo(ctx: AppContext) -> Demo:
    """The owner (password kept in data/demo-credentials.txt) and a public room waiting for the demo stream."""
    credentials = ctx.settings.data_dir / "demo-credentials.txt"
    async with ctx.db.session() as session:
        owner, password = await _owner(session, ctx, credentials)
        room = await _demo_room(session, ctx, owner)
        await stock_shelf(session, ctx, owner, room)
    return Demo(email=DEMO_EMAIL, password=password, credentials_file=credentials, room_id=room.id)


def _saved_password(credentials: Path) -> str | None:
    return credentials.read_text(encoding="utf-8").split("\n")[1] if credentials.exists() else None


def _save_password(credentials: Path, password: str) -> None:
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(f"{DEMO_EMAIL}\n{password}\n", encoding="utf-8")


async def _owner(session: AsyncSession, ctx: AppContext, credentials: Path) -> tuple[User, str]:
    """The demo owner and its password; runs once, before the server starts, so the small file I/O is fine."""
    owner = await accounts.find_by_email(session, DEMO_EMAIL)
    saved = _saved_password(credentials)
    if owner is not None and saved is not None:
        return owner, saved
    password = secrets.token_urlsafe(9)
    if owner is None:
        data = SignUp(email=DEMO_EMAIL, password=password, display_name="知识主播 Demo")
        owner = await accounts.create_user(session, ctx, data, Role.OWNER, locale=ctx.settings.default_locale)
    else:
        owner.password_hash = ctx.runtime(Passwords).hash(password)
        await session.commit()
    _save_password(credentials, password)
    return owner, password


async def _demo_room(session: AsyncSession, ctx: AppContext, owner: User) -> Room:
    """The newest of the owner's rooms that has not ended, or a new one."""
    for room in await rooms.rooms_of_host(session, owner):
        if room.state is not RoomState.ENDED:
            return room
    data = RoomCreate(
        title="30 天学会理财：第一课 · 直播答疑",
        description="一小时讲清楚预算、储蓄和指数基金。直播间限时优惠，欢迎提问。\n\n"
        "Budgeting, saving and index funds in one hour; questions welcome.",
        scheduled_at=utcnow(),
    )
    return await rooms.create_room(session, ctx, owner, data)


class DemoAudience:
    """Simulated viewers for the demo room: some signed in (they chat), the rest watch and like."""

    def __init__(
        self, ctx: AppContext, room_id: int, viewers: int = 24, chatters: int = 8, buy_every: float = 25.0
    ) -> None:
        self.ctx = ctx
        self.room_id = room_id
        self.viewers = viewers
        self.chatters = chatters
        self.buy_every = buy_every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await tasks.cancel(self._task)

    async def _run(self) -> None:
        tokens = await self._sessions()
        base = f"http://127.0.0.1:{self.ctx.settings.port}"
        await _wait_until_serving(base)
        log.info("demo audience joining", extra={"room_id": self.room_id, "viewers": self.viewers})
        pages: dict[str, PageViews] = {}
        buyers = DemoBuyers(base, self.room_id, tokens, self.ctx.settings.secret_key, self.buy_every, pages)
        buying = asyncio.create_task(buyers.run())
        try:
            await simulate(
                base,
                self.room_id,
                viewers=self.viewers,
                tokens=tokens,
                chat_every=6.0,
                secret_key=self.ctx.settings.secret_key,
                pages=pages,
            )
        finally:
            await tasks.cancel(buying)

    async def _sessions(self) -> list[str]:
        tokens = []
        async with self.ctx.db.session() as session:
            for n, name in enumerate(AUDIENCE_NAMES[: self.chatters], start=1):
                email = f"viewer{n}@demo.example.com"
                user = await accounts.find_by_email(session, email)
                if user is None:
                    data = SignUp(email=email, password=secrets.token_urlsafe(12), display_name=name)
                    user = await accounts.create_user(session, self.ctx, data)
                new = await accounts.open_session(session, self.ctx, user, ip="127.0.0.1", user_agent="demo")
                tokens.append(new.token)
        return tokens


async def _wait_until_serving(base: str) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(base + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.5)
