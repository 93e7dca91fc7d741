"""The composition root: create_app(settings) plugs the domains in (one install hook each, in DOMAINS' order),
puts the HTTP pipeline around them (middlewares, fast paths) and owns the lifespan (components, the engine)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from knowcast import __version__, event_registry, ops
from knowcast.accounts import domain as accounts
from knowcast.accounts.passwords import Passwords
from knowcast.accounts.throttle import SignInThrottle
from knowcast.analytics import domain as analytics
from knowcast.analytics.intake_path import IntakeFastPath
from knowcast.catalog import domain as catalog
from knowcast.commerce import domain as commerce
from knowcast.commerce.fastpath import FlashFastPath
from knowcast.commerce.snapshot_path import SnapshotFastPath
from knowcast.context import AppContext
from knowcast.db import migrate
from knowcast.db.engine import Database
from knowcast.demo import DemoAudience
from knowcast.domains import Domain
from knowcast.errors import install_handlers
from knowcast.fast_paths import FastPaths
from knowcast.growth import domain as growth
from knowcast.growth.embed import EmbedFraming
from knowcast.integrations import domain as integrations
from knowcast.interaction import domain as interaction
from knowcast.media import domain as media
from knowcast.middleware import BodyLimitMiddleware, RequestContextMiddleware
from knowcast.observability import AccessLogMiddleware, quiet_parameter_loggers
from knowcast.openapi import install_openapi
from knowcast.privacy import crypto, keyring
from knowcast.privacy import domain as privacy
from knowcast.privacy.visitors import VisitorIds
from knowcast.realtime import bridge as realtime_bridge
from knowcast.realtime import domain as realtime
from knowcast.realtime import routes as realtime_routes
from knowcast.realtime.hub import Hub
from knowcast.rooms import domain as rooms
from knowcast.settings import Settings
from knowcast.web import domain as web
from knowcast.web.assets import AssetFiles, StaticAssets
from knowcast.web.front import Instant
from knowcast.web.room_page import RoomPageFastPath, RoomPages
from knowcast.web.templating import STATIC_DIR, Pages

log = logging.getLogger(__name__)

# The order domains are installed in (knowcast/domains.py): each after those whose runtime it uses while
# installing (realtime's hub before the hooks interaction and commerce hang on it); bus subscribers and
# components (started in this order, stopped in reverse) follow it, and so do the routes (no two domains' paths
# overlap; the pages last).
DOMAINS: tuple[Domain, ...] = (
    accounts,
    realtime,
    rooms,
    privacy,
    interaction,
    catalog,
    commerce,
    media,
    integrations,
    analytics,
    growth,
    web,
)


class KnowcastApp(FastAPI):
    """The FastAPI app with ``front`` answering ahead of it: the flash-sale attempt (commerce/fastpath.py), the
    one request that comes ten thousand times a second, skips even FastAPI's and Starlette's outer layers (the
    telemetry check, the error middleware; about 10 µs). Everything else, lifespan included, goes to the app.
    ``instant`` answers what it knows by heart before there is even a request cycle (web/front.py)."""

    front: ASGIApp | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.instant = Instant()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front(scope, receive, send)

    async def behind(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app itself, without its front (what the front hands every other request to)."""
        await super().__call__(scope, receive, send)


def build_context(settings: Settings) -> AppContext:
    """The context with what commands need too, without an app: the key ring, the database, and the
    collaborators that live in domains, provided as runtimes (the context itself names no domain)."""
    ring = keyring.load(
        settings.data_dir, settings.encryption_keys, settings.lookup_key, create=settings.is_development
    )
    crypto.install(ring)
    ctx = AppContext(settings=settings, db=Database(settings.database_url))
    ctx.provide(Passwords(settings.argon2_time_cost, settings.argon2_memory_kib))
    ctx.provide(SignInThrottle.from_settings(settings))
    ctx.provide(VisitorIds(settings.timezone))
    ctx.provide(realtime_bridge.build_hub(settings))
    return ctx


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
    app = KnowcastApp(
        title="Knowcast",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan_of(ctx, serving),
    )
    app.state.ctx = ctx
    app.state.pages = Pages(settings)
    install_handlers(app, app.state.pages.error_page)
    install_openapi(app)
    app.include_router(ops.router)
    for domain in DOMAINS:
        domain.install(ctx, app)
    if settings.demo_audience and settings.demo_stream_room is not None:
        ctx.components.append(DemoAudience(ctx, settings.demo_stream_room, viewers=settings.demo_audience))
    install_pipeline(ctx, app)
    return app


def lifespan_of(ctx: AppContext, serving: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the components in the order they were added (stop them in reverse), then dispose of the engine."""
    settings = ctx.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        (settings.data_dir / "uploads" / "covers").mkdir(parents=True, exist_ok=True)
        if settings.should_auto_migrate:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        for component in ctx.components:
            await component.start()
        if serving:  # startup's objects live as long as the process: out of the collector's passes
            ctx.runtime(Hub).heap.settle()
        log.info("knowcast started", extra={"mode": settings.mode, "database": ctx.db.dialect})
        try:
            yield
        finally:
            for component in reversed(ctx.components):
                await component.stop()
            await ctx.db.dispose()

    return lifespan


def install_pipeline(ctx: AppContext, app: KnowcastApp) -> None:
    """The middlewares, added innermost first (the access log sees every response, including a 413 from the body
    limit), the fast paths outermost, and the flash-sale attempt ahead of the app itself."""
    settings = ctx.settings
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, upload_max_bytes=settings.max_upload_bytes
    )
    app.add_middleware(
        RequestContextMiddleware,
        default_locale=settings.default_locale,
        secure_cookies=settings.secure_cookies,
        media_origin=settings.download_url.rstrip("/"),
        connect_origin=settings.janus_browser_origin,
    )
    app.add_middleware(EmbedFraming)  # outside the security headers: embed pages drop X-Frame-Options
    app.add_middleware(AccessLogMiddleware, metrics=ctx.metrics)
    app.add_middleware(realtime_routes.LiveSockets, ctx=ctx)  # outermost: viewers' sockets skip the stack
    app.add_middleware(IntakeFastPath, ctx=ctx)  # browsers' analytics events (analytics/intake_path.py)
    room_pages = app.state.room_pages = RoomPages(ctx)  # the public room page, rendered per kind of viewer
    app.add_middleware(RoomPageFastPath, pages=room_pages)
    app.add_middleware(SnapshotFastPath, ctx=ctx)  # a room's commerce snapshot (commerce/snapshot_path.py)
    if settings.trusted_proxy_list:  # outermost of all: the client's address as the trusted proxy says
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    asset_answers: Counter[str] = Counter()
    ctx.metrics.count_from(
        "knowcast_static_assets", "hashed static files answered from memory, by status", "status", asset_answers, ()
    )
    assets = AssetFiles(STATIC_DIR, counts=asset_answers)
    app.add_middleware(StaticAssets, files=assets)  # from memory (web/assets.py)
    app.instant.answerers.append(assets.instant)  # the same, in the server's parser callback (web/front.py)
    app.instant.answerers.append(room_pages.instant)  # an anonymous viewer's room page, once rendered
    app.front = FlashFastPath(app.behind, ctx)  # ahead of it all: flash-sale attempts (commerce/fastpath.py)


def app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory`` and for each worker of ``knowcast serve --workers N``."""
    import os
    from pathlib import Path

    from knowcast.settings import load_settings

    config = os.environ.get("KNOWCAST_CONFIG")
    return create_app(load_settings(Path(config) if config else None), serving=True)
