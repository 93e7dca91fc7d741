"""The catalog plugged into the app: its routes (the catalog keeps no runtime)."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.catalog import routes
from knowcast.context import AppContext

NAME = "catalog"


def install(_ctx: AppContext, app: FastAPI) -> None:
    app.include_router(routes.router)
