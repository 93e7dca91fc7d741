"""Sign-up is rate limited per address (issue 7, point 6): a coded 429 with Retry-After, and no account made."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from knowcast.accounts.models import User
from knowcast.context import AppContext
from knowcast.ratelimit import RateLimiter
from tests.conftest import PASSWORD


async def accounts(ctx: AppContext) -> int:
    async with ctx.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def test_too_many_sign_ups_from_one_address_get_a_coded_429(client_factory: Any, ctx: AppContext) -> None:
    assert ctx.limit.signup_address.limit == ctx.settings.signup_per_address == 10  # per hour, by default
    ctx.limit.signup_address = RateLimiter(2, 3600)
    for n in range(2):
        body = {"email": f"new{n}@example.com", "password": PASSWORD, "display_name": f"新人{n}"}
        assert (await client_factory().post("/api/v1/auth/signup", json=body)).status_code == 201
    body = {"email": "third@example.com", "password": PASSWORD, "display_name": "第三个"}
    refused = await client_factory().post("/api/v1/auth/signup", json=body)  # a fresh client: same address
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "account.signup_rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert await accounts(ctx) == 2  # the refused one made nothing
