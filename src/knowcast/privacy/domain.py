"""Privacy plugged into the app: the audit log hears the bus, the janitor purges old salts, and the routes."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.context import AppContext
from knowcast.privacy import audit_events, routes
from knowcast.privacy.janitor import PrivacyJanitor

NAME = "privacy"


def install(ctx: AppContext, app: FastAPI) -> None:
    audit_events.subscribe(ctx.bus, ctx.db)
    PrivacyJanitor(ctx).install()
    app.include_router(routes.router)
