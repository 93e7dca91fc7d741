"""The web pages plugged into the app: the page routes (last, as ever) and the files served from disk (the built
static files are also answered from memory ahead of the app: web/assets.py)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from knowcast.context import AppContext
from knowcast.web import pages
from knowcast.web.templating import STATIC_DIR

NAME = "web"


def install(ctx: AppContext, app: FastAPI) -> None:
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    covers = ctx.settings.data_dir / "uploads" / "covers"  # created by the app's lifespan
    app.mount("/uploads/covers", StaticFiles(directory=covers, check_dir=False), name="covers")
