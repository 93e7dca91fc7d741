"""Accounts plugged into the app: the batched session lookups (live sockets and fast paths read them) and the routes."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.accounts import routes
from knowcast.accounts.identities import IdentityLookups
from knowcast.context import AppContext

NAME = "accounts"


def install(ctx: AppContext, app: FastAPI) -> None:
    identities = IdentityLookups(ctx.db)  # session cookie → who, batched for crowds
    identities.subscribe(ctx.bus)
    ctx.provide(identities)
    app.include_router(routes.router)
