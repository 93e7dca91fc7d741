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

from knowcast import csrf
from knowcast.accounts import service as accounts
from knowcast.accounts.models import User
from knowcast.accounts.permissions import Permission, has_permission
from knowcast.context import AppContext
from knowcast.errors import AuthenticationRequired, PermissionDenied

SESSION_COOKIE = "kc_session"
MAX_ID = 2**63 - 1

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive integer id")]


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_db(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.db.session() as session:
        yield session


Db = Annotated[AsyncSession, Depends(get_db)]


async def optional_user(request: Request, db: Db) -> User | None:
    if hasattr(request.state, "user"):
        cached: User | None = request.state.user
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    user = await accounts.resolve_session(db, token) if token else None
    request.state.user = user
    return user


MaybeUser = Annotated[User | None, Depends(optional_user)]


async def public(request: Request, ctx: Ctx) -> None:
    """Anyone may call this route; state-changing calls still need the CSRF token."""
    await csrf.verify(request, ctx.settings.secret_key)


async def machine() -> None:
    """Called by another system (a media server, a payment provider), never by a browser.

    No cookie is involved, so no CSRF check: the route itself must verify the caller's signature or shared
    secret before doing anything.
    """


def require(permission: Permission) -> Callable[..., Awaitable[User]]:
    """A dependency that returns the signed-in user holding ``permission`` (and checks CSRF)."""

    async def check(request: Request, ctx: Ctx, user: MaybeUser) -> User:
        if user is None:
            raise AuthenticationRequired("sign in first")
        if not has_permission(user.role, permission):
            raise PermissionDenied(f"your role ({user.role.value}) cannot do this", code="auth.forbidden")
        await csrf.verify(request, ctx.settings.secret_key)
        return user

    check.permission = permission  # type: ignore[attr-defined]  # read by the route-guard test
    return check


CurrentUser = Annotated[User, Depends(require(Permission.VIEW))]
Host = Annotated[User, Depends(require(Permission.MANAGE_ROOMS))]
Owner = Annotated[User, Depends(require(Permission.MANAGE_SHOP))]
Moderator = Annotated[User, Depends(require(Permission.MODERATE))]
Public = Depends(public)
Machine = Depends(machine)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
