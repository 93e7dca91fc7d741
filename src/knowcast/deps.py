"""Typed FastAPI dependencies: the app context, a database session, the signed-in user, access checks.

Every route declares who may call it with exactly one of ``Depends(public)``, ``Depends(require(...))`` or
``Depends(machine)`` (server-to-server hooks that verify their own signature);
tests/test_routes_guarded.py walks the app and fails on a route that declares neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from knowcast import csrf
from knowcast.accounts import service as accounts
from knowcast.accounts.models import User
from knowcast.accounts.permissions import Permission, has_permission
from knowcast.context import AppContext
from knowcast.db.types import MAX_ROW_ID
from knowcast.errors import AuthenticationRequired, ErrorCode, PermissionDenied
from knowcast.integrations import tokens
from knowcast.integrations.scopes import Scope

SESSION_COOKIE = "kc_session"
MAX_ID = MAX_ROW_ID

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive integer id")]


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_db(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.db.session() as session:
        yield session


Db = Annotated[AsyncSession, Depends(get_db)]


def bearer_token(request: Request) -> str | None:
    """The API token of an ``Authorization: Bearer`` header on an /api/ call, else None."""
    if not request.url.path.startswith("/api/"):
        return None
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def authenticated_user(request: Request, db: Db) -> User | None:
    """The caller, by API token (its grant goes to ``request.state.api_token``) or else by session cookie."""
    if hasattr(request.state, "user"):
        cached: User | None = request.state.user
        return cached
    bearer = bearer_token(request)
    if bearer is not None:
        grant = await tokens.authenticate(db, bearer)  # a bad token is a 401, never a fall-back to the cookie
        request.state.api_token = grant
        user: User | None = grant.user
    else:
        token = request.cookies.get(SESSION_COOKIE)
        user = await accounts.resolve_session(db, token) if token else None
    request.state.user = user
    return user


async def optional_user(request: Request, db: Db) -> User | None:
    """The signed-in user or None. A call made with an API token counts as anonymous here: a token acts as its
    user only on routes that name a scope (``require(..., scope=...)``)."""
    user = await authenticated_user(request, db)
    return None if hasattr(request.state, "api_token") else user


MaybeUser = Annotated[User | None, Depends(optional_user)]
AuthUser = Annotated[User | None, Depends(authenticated_user)]


async def public(request: Request, ctx: Ctx) -> None:
    """Anyone may call this route; state-changing calls still need the CSRF token."""
    await csrf.verify(request, ctx.settings.secret_key)


async def machine() -> None:
    """Called by another system (a media server, a payment provider), never by a browser.

    No cookie is involved, so no CSRF check: the route itself must verify the caller's signature or shared
    secret before doing anything.
    """


def require(permission: Permission, scope: Scope | None = None) -> Callable[..., Awaitable[User]]:
    """A dependency that returns the signed-in user holding ``permission`` (and checks CSRF).

    A call with an API token must hold ``scope`` (a route naming none refuses tokens) and needs no CSRF token:
    browsers never attach an Authorization header on their own, so there is no ambient authority to forge.
    """

    async def check(request: Request, ctx: Ctx, user: AuthUser) -> User:
        if user is None:
            raise AuthenticationRequired("sign in first")
        grant: tokens.TokenGrant | None = getattr(request.state, "api_token", None)
        if grant is not None:
            tokens.ensure_scope(grant, scope)
        if not has_permission(user.role, permission):
            raise PermissionDenied(f"your role ({user.role.value}) cannot do this", code=ErrorCode.AUTH_FORBIDDEN)
        if grant is None:
            await csrf.verify(request, ctx.settings.secret_key)
        return user

    check.permission = permission  # type: ignore[attr-defined]  # read by the route-guard test
    check.scope = scope  # type: ignore[attr-defined]  # read by the token-scope tests
    return check


CurrentUser = Annotated[User, Depends(require(Permission.VIEW))]
Host = Annotated[User, Depends(require(Permission.MANAGE_ROOMS))]
Owner = Annotated[User, Depends(require(Permission.MANAGE_SHOP))]
Moderator = Annotated[User, Depends(require(Permission.MODERATE))]
Public = Depends(public)
Machine = Depends(machine)


def client_ip(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"
