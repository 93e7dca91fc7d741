"""The only code that changes API tokens: create (shown once), list, revoke, and authenticate a bearer.

A token reads ``kct_<43 random characters>``; the prefix lets secret scanners and people recognise it.
Only its SHA-256 is stored, like the session cookie's.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import Role, User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import AuthenticationRequired, Conflict, NotFound, PermissionDenied
from knowcast.integrations.errors import IntegrationsCode
from knowcast.integrations.models import ApiToken
from knowcast.integrations.schemas import TokenCreate, TokenState
from knowcast.integrations.scopes import Scope, grantable

PREFIX = "kct_"
MAX_LENGTH = 100
HINT_LENGTH = 10
MAX_ACTIVE_PER_USER = 50
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True)
class NewToken:
    row: ApiToken
    token: str  # shown once


@dataclass(frozen=True)
class TokenGrant:
    """A request authenticated by a token: who it acts as, and what it may do."""

    token_id: int
    user: User
    scopes: frozenset[str]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def state_of(row: ApiToken, now: datetime | None = None) -> TokenState:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


async def create_token(session: AsyncSession, ctx: AppContext, user: User, data: TokenCreate) -> NewToken:
    refused = [scope.value for scope in data.scopes if scope not in grantable(user.role)]
    if refused:
        raise PermissionDenied(
            "your role cannot give a token these scopes",
            code=IntegrationsCode.TOKEN_SCOPE_NOT_ALLOWED,
            fields={"scopes": ", ".join(refused)},
        )
    if await _active_count(session, user.id) >= MAX_ACTIVE_PER_USER:
        raise Conflict(
            f"at most {MAX_ACTIVE_PER_USER} active tokens; revoke one first", code=IntegrationsCode.TOKEN_TOO_MANY
        )
    token = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(
        user_id=user.id,
        name=data.name,
        token_hash=hash_token(token),
        hint=token[:HINT_LENGTH],
        scopes=[scope.value for scope in data.scopes],
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    session.add(row)
    await session.commit()
    await ctx.bus.publish(Event("api_token.created", {"token_id": row.id, "user_id": user.id, "scopes": row.scopes}))
    return NewToken(row=row, token=token)


async def _active_count(session: AsyncSession, user_id: int) -> int:
    query = select(func.count()).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    return int(await session.scalar(query) or 0)


async def list_tokens(session: AsyncSession, user: User) -> list[ApiToken]:
    """The owner sees every token in the shop (to revoke a departed host's); others see their own."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user.role is not Role.OWNER:
        query = query.where(ApiToken.user_id == user.id)
    return list(await session.scalars(query))


async def holders(session: AsyncSession, rows: list[ApiToken]) -> dict[int, str]:
    """The display names of the users the tokens act as."""
    ids = {row.user_id for row in rows}
    if not ids:
        return {}
    found = await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return dict(found.tuples().all())


async def revoke_token(session: AsyncSession, ctx: AppContext, actor: User, token_id: int) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and actor.role is not Role.OWNER):
        raise NotFound("no such token", code=IntegrationsCode.TOKEN_NOT_FOUND)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.commit()
        data = {"token_id": row.id, "user_id": row.user_id, "by": actor.id}
        await ctx.bus.publish(Event("api_token.revoked", data))
    return row


async def authenticate(session: AsyncSession, token: str) -> TokenGrant:
    """The grant for a bearer token; AuthenticationRequired (401) when it is unknown, revoked or expired."""
    if not token.startswith(PREFIX) or len(token) > MAX_LENGTH:
        raise AuthenticationRequired(
            "this is not a Knowcast API token", code=IntegrationsCode.TOKEN_INVALID, headers=CHALLENGE
        )
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        raise AuthenticationRequired("unknown API token", code=IntegrationsCode.TOKEN_INVALID, headers=CHALLENGE)
    state = state_of(row)
    if state != "active":
        raise AuthenticationRequired(
            f"this API token is {state}", code=IntegrationsCode(f"token.{state}"), headers=CHALLENGE
        )
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise AuthenticationRequired(
            "the token's account is disabled", code=IntegrationsCode.TOKEN_INVALID, headers=CHALLENGE
        )
    await _touch(session, row)
    return TokenGrant(token_id=row.id, user=user, scopes=frozenset(row.scopes))


async def _touch(session: AsyncSession, row: ApiToken) -> None:
    now = utcnow()
    if row.last_used_at is not None and now - row.last_used_at < TOUCH_EVERY:
        return
    row.last_used_at = now
    await session.commit()


def ensure_scope(grant: TokenGrant, scope: Scope | None) -> None:
    """Refuse a token on a route that accepts none, or without the route's scope (403)."""
    if scope is None:
        raise PermissionDenied(
            "this route does not accept API tokens; sign in instead", code=IntegrationsCode.TOKEN_NOT_ACCEPTED
        )
    if scope.value not in grant.scopes:
        raise PermissionDenied(
            f"this token lacks the scope {scope.value}",
            code=IntegrationsCode.TOKEN_SCOPE_MISSING,
            fields={"scope": scope.value},
        )
