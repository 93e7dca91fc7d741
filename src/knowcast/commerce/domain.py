"""Commerce plugged into the app: its runtime (flash gate and writer, payment providers, snapshots, session
lookups) and its routes. Its fast paths are the composition root's (knowcast.app)."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.commerce import checkout_routes, room_routes, routes, runtime, wechat_oauth
from knowcast.context import AppContext

NAME = "commerce"


def install(ctx: AppContext, app: FastAPI) -> None:
    runtime.install(ctx)
    for router in (routes.router, room_routes.router, wechat_oauth.router, checkout_routes.router):
        app.include_router(router)
