"""Growth plugged into the app: its runtime (reminders, the run-of-show, FAQ auto-replies) and its routes."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.context import AppContext
from knowcast.growth import routes, runtime

NAME = "growth"


def install(ctx: AppContext, app: FastAPI) -> None:
    runtime.install(ctx)
    app.include_router(routes.router)
