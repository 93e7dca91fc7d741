"""Rooms plugged into the app: their routes (rooms keep no runtime)."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.context import AppContext
from knowcast.rooms import routes

NAME = "rooms"


def install(_ctx: AppContext, app: FastAPI) -> None:
    app.include_router(routes.router)
