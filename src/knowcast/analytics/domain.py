"""Analytics plugged into the app: its runtime (it learns from the bus; what it offers others goes through
knowcast.ports), the intake of events sent on the live socket, and its routes. Its HTTP intake fast path is the
composition root's (knowcast.app)."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.analytics import routes, runtime
from knowcast.analytics.socket_intake import SocketIntake
from knowcast.context import AppContext

NAME = "analytics"


def install(ctx: AppContext, app: FastAPI) -> None:
    runtime.install(ctx)
    SocketIntake(ctx).install()  # the page's events on its live socket
    app.include_router(routes.router)
