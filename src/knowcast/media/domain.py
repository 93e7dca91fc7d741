"""The video plane plugged into the app: its runtime (supervisor, RTMP gate, WHIP/WHEP, the stage) and its routes."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.context import AppContext
from knowcast.media import hooks, janus_routes, routes, stage_routes, whep_routes, whip_routes
from knowcast.media.runtime import build_media

NAME = "media"


def install(ctx: AppContext, app: FastAPI) -> None:
    build_media(ctx)
    for router in (
        routes.router,
        routes.api,
        hooks.router,
        whip_routes.router,
        whep_routes.router,
        janus_routes.router,
        stage_routes.api,
        stage_routes.rtc,
    ):
        app.include_router(router)
