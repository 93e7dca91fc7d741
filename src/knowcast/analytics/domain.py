"""Analytics plugged into the app: its runtime (it learns from the bus; what it offers others goes through
knowcast.ports) and its routes. Its intake fast path is the composition root's (knowcast.app)."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.analytics import routes, runtime
from knowcast.context import AppContext

NAME = "analytics"


def install(ctx: AppContext, app: FastAPI) -> None:
    runtime.install(ctx)
    app.include_router(routes.router)
