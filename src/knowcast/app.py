"""create_app(settings): routes, middleware, error mapping, and the lifespan that owns the engine and workers."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from knowcast import __version__, event_registry, ops
from knowcast.accounts import routes as account_routes
from knowcast.accounts.identities import IdentityLookups
from knowcast.accounts.passwords import Passwords
from knowcast.analytics import routes as analytics_routes
from knowcast.analytics import runtime as analytics_runtime
from knowcast.analytics.intake_path import IntakeFastPath
from knowcast.catalog import routes as catalog_routes
from knowcast.commerce import checkout_routes, wechat_oauth
from knowcast.commerce import room_routes as commerce_room_routes
from knowcast.commerce import routes as commerce_routes
from knowcast.commerce import runtime as commerce_runtime
from knowcast.commerce.fastpath import FlashFastPath
from knowcast.commerce.snapshot_path import SnapshotFastPath
from knowcast.context import AppContext
from knowcast.db import migrate
from knowcast.db.engine import Database
from knowcast.demo import DemoAudience
from knowcast.errors import install_handlers
from knowcast.fast_paths import FastPaths
from knowcast.growth import routes as growth_routes
from knowcast.growth import runtime as growth_runtime
from knowcast.growth.embed import EmbedFraming
from knowcast.integrations import routes as integration_routes
from knowcast.integrations.dispatcher import WebhookDispatcher
from knowcast.interaction import pages as interaction_pages
from knowcast.interaction import routes as interaction_routes
from knowcast.interaction.live import LiveInteraction
from knowcast.media import hooks as media_hooks
from knowcast.media import routes as media_routes
from knowcast.media import stage_routes, whep_routes, whip_routes
from knowcast.media.runtime import build_media
from knowcast.middleware import BodyLimitMiddleware, RequestContextMiddleware
from knowcast.observability import AccessLogMiddleware, quiet_parameter_loggers
from knowcast.openapi import install_openapi
from knowcast.privacy import audit_events, crypto, keyring
from knowcast.privacy import routes as privacy_routes
from knowcast.privacy.janitor import PrivacyJanitor
from knowcast.realtime import bridge as realtime_bridge
from knowcast.realtime import routes as realtime_routes
from knowcast.realtime.hub import FAILURE_STAGES, WELCOME_KINDS, WELCOME_PARTS
from knowcast.rooms import routes as room_routes
from knowcast.settings import Settings
from knowcast.web import pages
from knowcast.web.assets import StaticAssets
from knowcast.web.room_page import RoomPageFastPath
from knowcast.web.templating import STATIC_DIR, Pages

log = logging.getLogger(__name__)


class KnowcastApp(FastAPI):
    """The FastAPI app with ``front`` answering ahead of it: the flash-sale attempt (commerce/fastpath.py), the
    one request that comes ten thousand times a second, skips even FastAPI's and Starlette's outer layers (the
    telemetry check, the error middleware; about 10 µs). Everything else, lifespan included, goes to the app."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front(scope, receive, send)

    async def behind(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app itself, without its front (what the front hands every other request to)."""
        await super().__call__(scope, receive, send)


def build_context(settings: Settings) -> AppContext:
    ring = keyring.load(
        settings.data_dir, settings.encryption_keys, settings.lookup_key, create=settings.is_development
    )
    crypto.install(ring)
    return AppContext(
        settings=settings,
        db=Database(settings.database_url),
        passwords=Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
        hub=realtime_bridge.build_hub(settings),
    )


def create_app(settings: Settings, ctx: AppContext | None = None, *, serving: bool = False) -> KnowcastApp:
    """The app; ``serving``: in a server process of its own (`knowcast serve`), which may tune the process
    (the collector, realtime/heap.py) as a test process sharing its heap with the suite must not."""
    ctx = ctx or build_context(settings)
    ctx.provide(FastPaths(on=settings.fast_paths))  # the fast paths' switch (knowcast/fast_paths.py)
    quiet_parameter_loggers()
    # not strict: an event its model refuses is logged and counted, still delivered (the suite's hand-made events
    # carry only the fields their subscriber reads; tests/test_event_registry.py holds the models to the code)
    ctx.bus.declare(event_registry.EVENTS, strict=False)
    ctx.metrics.count_from(
        "knowcast_bus_refused_events",
        "bus events whose data did not match their model (production delivers them anyway), by event",
        "event",
        ctx.bus.refused,
        (),
    )
    identities = IdentityLookups(ctx.db)  # session cookie → who, batched for crowds (the fast paths read it)
    identities.subscribe(ctx.bus)
    ctx.provide(identities)
    realtime_bridge.connect(ctx.bus, ctx.hub)
    LiveInteraction(ctx).install()
    ctx.components.append(ctx.hub)
    ctx.metrics.count_from(
        "knowcast_realtime_failures",
        "live room steps that failed without costing the rest of the room anything, by stage",
        "stage",
        ctx.hub.failures,
        FAILURE_STAGES,
    )
    ctx.metrics.count_from(
        "knowcast_realtime_welcomes", "live sockets welcomed, by kind", "kind", ctx.hub.welcomes, WELCOME_KINDS
    )
    ctx.metrics.count_from(
        "knowcast_realtime_welcome_parts",
        "fresh welcomes that carried a part (commerce: the room's commerce snapshot), by part",
        "part",
        ctx.hub.welcome_parts_sent,
        WELCOME_PARTS,
    )
    asset_answers: Counter[str] = Counter()
    ctx.metrics.count_from(
        "knowcast_static_assets", "hashed static files answered from memory, by status", "status", asset_answers, ()
    )
    commerce_runtime.install(ctx)
    analytics_runtime.install(ctx)
    growth_runtime.install(ctx)
    build_media(ctx)
    WebhookDispatcher(ctx).install()
    audit_events.subscribe(ctx.bus, ctx.db)
    PrivacyJanitor(ctx).install()
    if settings.demo_audience and settings.demo_stream_room is not None:
        ctx.components.append(DemoAudience(ctx, settings.demo_stream_room, viewers=settings.demo_audience))
    covers_dir = settings.data_dir / "uploads" / "covers"

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        covers_dir.mkdir(parents=True, exist_ok=True)
        if settings.should_auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        for component in ctx.components:
            await component.start()
        if serving:  # startup's objects live as long as the process: out of the collector's passes
            ctx.hub.heap.settle()
        log.info("knowcast started", extra={"mode": settings.mode, "database": ctx.db.dialect})
        try:
            yield
        finally:
            for component in reversed(ctx.components):
                await component.stop()
            await ctx.db.dispose()

    app = KnowcastApp(
        title="Knowcast",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.pages = Pages(settings)
    install_handlers(app, app.state.pages.error_page)
    install_openapi(app)
    for router in (
        ops.router,
        account_routes.router,
        room_routes.router,
        privacy_routes.router,
        interaction_routes.router,
        interaction_routes.shop,
        interaction_pages.router,
        catalog_routes.router,
        commerce_routes.router,
        commerce_room_routes.router,
        wechat_oauth.router,
        checkout_routes.router,
        media_routes.router,
        media_routes.api,
        media_hooks.router,
        whip_routes.router,
        whep_routes.router,
        stage_routes.api,
        stage_routes.rtc,
        integration_routes.token_router,
        integration_routes.webhook_router,
        analytics_routes.router,
        growth_routes.router,
        pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/uploads/covers", StaticFiles(directory=covers_dir, check_dir=False), name="covers")
    # added innermost first: the access log sees every response, including a 413 from the body limit
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, upload_max_bytes=settings.max_upload_bytes
    )
    app.add_middleware(
        RequestContextMiddleware,
        default_locale=settings.default_locale,
        secure_cookies=settings.secure_cookies,
        media_origin=settings.download_url.rstrip("/"),
    )
    app.add_middleware(EmbedFraming)  # outside the security headers: embed pages drop X-Frame-Options
    app.add_middleware(AccessLogMiddleware, metrics=ctx.metrics)
    app.add_middleware(realtime_routes.LiveSockets, ctx=ctx)  # outermost: viewers' sockets skip the stack
    app.add_middleware(IntakeFastPath, ctx=ctx)  # browsers' analytics events (analytics/intake_path.py)
    app.add_middleware(RoomPageFastPath, ctx=ctx)  # the public room page, rendered per kind of viewer
    app.add_middleware(SnapshotFastPath, ctx=ctx)  # a room's commerce snapshot (commerce/snapshot_path.py)
    if settings.trusted_proxy_list:  # outermost of all: the client's address as the trusted proxy says
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    app.add_middleware(
        StaticAssets, static_dir=STATIC_DIR, counts=asset_answers
    )  # hashed built files, from memory (web/assets.py)
    app.front = FlashFastPath(app.behind, ctx)  # ahead of it all: flash-sale attempts (commerce/fastpath.py)
    return app


def app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory`` and for each worker of ``knowcast serve --workers N``."""
    import os
    from pathlib import Path

    from knowcast.settings import load_settings

    config = os.environ.get("KNOWCAST_CONFIG")
    return create_app(load_settings(Path(config) if config else None), serving=True)
