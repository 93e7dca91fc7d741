"""Set-up helpers shared by the CLI, the demo and the tests: accounts and rooms created directly."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from knowcast.accounts import service as accounts
from knowcast.accounts.models import Role, User
from knowcast.accounts.schemas import SignUp
from knowcast.app import build_context
from knowcast.db.types import utcnow
from knowcast.rooms import service as rooms
from knowcast.rooms.schemas import RoomCreate
from knowcast.settings import Settings

DEMO_EMAIL = "owner@demo.knowcast.local"


@dataclass(frozen=True)
class Demo:
    email: str
    password: str
    credentials_file: Path


async def create_account(settings: Settings, email: str, name: str, password: str, role: Role) -> User:
    ctx = build_context(settings)
    try:
        async with ctx.db.session() as session:
            return await accounts.create_user(
                session, ctx, SignUp(email=email, password=password, display_name=name), role
            )
    finally:
        await ctx.db.dispose()


async def prepare_demo(settings: Settings) -> Demo:
    """The owner account (password kept in data/demo-credentials.txt) and a room to look at."""
    credentials = settings.data_dir / "demo-credentials.txt"
    ctx = build_context(settings)
    try:
        async with ctx.db.session() as session:
            owner = await accounts.find_by_email(session, DEMO_EMAIL)
            if owner is None or not credentials.exists():
                password = secrets.token_urlsafe(9)
                if owner is None:
                    data = SignUp(email=DEMO_EMAIL, password=password, display_name="知识主播 Demo")
                    owner = await accounts.create_user(session, ctx, data, Role.OWNER, locale=settings.default_locale)
                else:
                    owner.password_hash = ctx.passwords.hash(password)
                    await session.commit()
                credentials.parent.mkdir(parents=True, exist_ok=True)
                credentials.write_text(f"{DEMO_EMAIL}\n{password}\n", encoding="utf-8")
            password = credentials.read_text(encoding="utf-8").split("\n")[1]
            if not await rooms.rooms_of_host(session, owner):
                room = RoomCreate(
                    title="30 天学会理财：第一课 · 直播答疑",
                    description="一小时讲清楚预算、储蓄和指数基金。直播间限时优惠，欢迎提问。",
                    scheduled_at=utcnow() + timedelta(minutes=30),
                )
                await rooms.create_room(session, ctx, owner, room)
    finally:
        await ctx.db.dispose()
    return Demo(email=DEMO_EMAIL, password=password, credentials_file=credentials)
