"""Set-up helpers shared by the CLI and the tests: accounts created directly, as an operator would."""

from __future__ import annotations

from knowcast.accounts import service as accounts
from knowcast.accounts.models import Role, User
from knowcast.accounts.schemas import SignUp
from knowcast.app import build_context
from knowcast.settings import Settings


async def create_account(settings: Settings, email: str, name: str, password: str, role: Role) -> User:
    ctx = build_context(settings)
    try:
        async with ctx.db.session() as session:
            data = SignUp(email=email, password=password, display_name=name)
            return await accounts.create_user(session, ctx, data, role)
    finally:
        await ctx.db.dispose()
