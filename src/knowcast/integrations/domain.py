"""Integrations plugged into the app: the webhook dispatcher (bus events → signed deliveries) and the routes."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.context import AppContext
from knowcast.integrations import routes
from knowcast.integrations.dispatcher import WebhookDispatcher

NAME = "integrations"


def install(ctx: AppContext, app: FastAPI) -> None:
    WebhookDispatcher(ctx).install()
    for router in (routes.token_router, routes.webhook_router):
        app.include_router(router)
