"""Interaction plugged into the app: chat, likes, Q&A and polls on the hub, and the routes and pages."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.context import AppContext
from knowcast.interaction import pages, routes
from knowcast.interaction.live import LiveInteraction

NAME = "interaction"


def install(ctx: AppContext, app: FastAPI) -> None:
    LiveInteraction(ctx).install()
    for router in (routes.router, routes.shop, pages.router):
        app.include_router(router)
