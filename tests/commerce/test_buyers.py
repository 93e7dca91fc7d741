"""Who is buying: sessions the cache does not know are looked up together (one query per batch, not two per
buyer), and only live sessions of active accounts are found."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from knowcast.accounts import service as accounts
from knowcast.accounts.models import AuthSession, Role, User
from knowcast.accounts.schemas import SignUp
from knowcast.accounts.service import hash_token
from knowcast.commerce import buyers
from knowcast.commerce.buyers import SessionLookups
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.deps import SESSION_COOKIE


async def _signed_in(ctx: AppContext, count: int) -> list[tuple[int, str]]:
    found = []
    async with ctx.db.session() as session:
        for n in range(count):
            data = SignUp(email=f"crowd{n}@example.com", password="a long password", display_name=f"观众{n}")
            user = await accounts.create_user(session, ctx, data, Role.VIEWER)
            found.append((user.id, (await accounts.open_session(session, ctx, user, ip=None, user_agent=None)).token))
    return found


async def test_a_crowd_of_unknown_sessions_costs_a_few_queries(ctx: AppContext, monkeypatch: Any) -> None:
    crowd = await _signed_in(ctx, 30)
    monkeypatch.setattr(buyers, "CACHE", buyers.SessionCache())  # nobody opened the room: all unknown
    monkeypatch.setattr(buyers, "BATCH", 8)
    queries: list[int] = []
    real = accounts.session_user_ids

    async def counted(session: Any, tokens: Any) -> dict[str, int]:
        queries.append(len(tokens))
        return await real(session, tokens)

    monkeypatch.setattr(accounts, "session_user_ids", counted)
    lookups = SessionLookups(ctx.db, 300)
    tokens = [token for _, token in crowd]
    answers = await asyncio.gather(*(lookups.user_id(token) for token in [*tokens, *tokens, "no-such-session"]))
    assert answers == [user_id for user_id, _ in crowd] * 2 + [None]
    assert sum(queries) == 31 and max(queries) == 8 and len(queries) <= 5  # each token asked once, in batches
    assert await lookups.user_id(tokens[0]) == crowd[0][0] and sum(queries) == 31  # remembered now


async def test_expired_sessions_and_disabled_accounts_are_not_found(ctx: AppContext) -> None:
    (alive, alive_token), (_, expired_token), (disabled, disabled_token) = await _signed_in(ctx, 3)
    async with ctx.db.session() as session:
        row = await session.scalar(select(AuthSession).where(AuthSession.token_hash == hash_token(expired_token)))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        user = await session.get(User, disabled)
        assert user is not None
        user.is_active = False
        await session.commit()
        found = await accounts.session_user_ids(session, [alive_token, expired_token, disabled_token, "unknown"])
    assert found == {alive_token: alive}


async def test_a_database_failure_reaches_every_waiting_buyer(ctx: AppContext, monkeypatch: Any) -> None:
    monkeypatch.setattr(buyers, "CACHE", buyers.SessionCache())

    async def broken(session: Any, tokens: Any) -> dict[str, int]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(accounts, "session_user_ids", broken)
    lookups = SessionLookups(ctx.db, 300)
    answers = await asyncio.gather(*(lookups.user_id(f"token-{n}") for n in range(5)), return_exceptions=True)
    assert all(isinstance(answer, RuntimeError) for answer in answers)
    with pytest.raises(RuntimeError):
        await lookups.user_id("token-after")  # the next lookup runs its own query


async def test_with_no_memory_a_signed_out_session_is_refused_at_once(ctx: AppContext, monkeypatch: Any) -> None:
    """FLASH_SESSION_CACHE_SECONDS=0: every attempt reads its session, so signing out ends buying at once."""
    monkeypatch.setattr(buyers, "CACHE", buyers.SessionCache())
    [(user_id, token)] = await _signed_in(ctx, 1)
    lookups = SessionLookups(ctx.db, 0)
    assert await lookups.user_id(token) == user_id
    async with ctx.db.session() as session:
        await accounts.sign_out(session, ctx, token)
    assert await lookups.user_id(token) is None


async def test_a_session_that_ends_here_is_forgotten_at_once(shop: Any, make_user: Any) -> None:
    """The room page remembered the buyer's session; after they sign out, a flash attempt with the old
    cookie is refused at once (not after FLASH_SESSION_CACHE_SECONDS)."""
    product = await shop.shelved(stock=10)
    sale = await shop.sale(product["id"], stock=5)
    buyer = await make_user(Role.VIEWER)
    assert (await buyer.client.get(f"/api/v1/rooms/{shop.room_id}/commerce")).status_code == 200
    token = buyer.client.cookies.get(SESSION_COOKIE)
    assert buyers.CACHE.get(token) == buyer.user.id
    assert (await buyer.client.post("/api/v1/auth/signout")).status_code == 204
    assert buyers.CACHE.get(token) is None
    buyer.client.cookies.set(SESSION_COOKIE, token)  # the old cookie, kept by a page that did not reload
    refused = await buyer.client.post(f"/api/v1/flash-sales/{sale['id']}/attempts", json={})
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "auth.required")
