"""The commerce plane's long-lived parts, one per app: the flash gate, the batch writer, the payment
provider, per-process caches, and the loops that keep things tidy (a Component: started and stopped by the
app's lifespan).

The sweeper loop expires unpaid orders (their stock returns), applies gate releases and delivers sandbox
webhooks from the outbox, gives back gate claims whose process died, and closes draws whose time is up.
A second loop sends at most one "stock left" event per sale every STOCK_TICK seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.commerce import buyers
from knowcast.commerce.flash_gate import FlashGate, MemoryGate
from knowcast.commerce.providers.base import PaymentProvider, PayMethod
from knowcast.commerce.providers.sandbox import SandboxProvider, secret_from
from knowcast.commerce.writer import FlashWriter, SaleInfo
from knowcast.context import AppContext
from knowcast.errors import ConfigError

if TYPE_CHECKING:
    from knowcast.commerce.mine import MyShopLookups
    from knowcast.commerce.room_snapshot import ClaimLookups, RoomSnapshots

log = logging.getLogger(__name__)
STOCK_TICK = 0.25
RECONCILE_CHECK_SECONDS = 600.0
OpenIdLookup = Callable[[Request, AsyncSession, User], Awaitable[str | None]]


@dataclass
class CommerceRuntime:
    ctx: AppContext
    gate: FlashGate
    writer: FlashWriter
    providers: dict[str, PaymentProvider]  # the enabled ones (KNOWCAST_PAYMENT_PROVIDERS), best first
    sandbox: SandboxProvider
    sessions: buyers.SessionLookups  # who is buying: one session memory and lookup queue per app
    snapshots: RoomSnapshots | None = None  # each room's shared commerce snapshot (room_snapshot.py)
    claims: ClaimLookups | None = None  # viewers' claimed coupon values, batched
    mine: MyShopLookups | None = None  # viewers' own part of the shop (pending orders, owned, coupons), batched
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))
    sales: dict[int, tuple[float, SaleInfo]] = field(default_factory=dict)
    load_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)
    # the WeChat payer's openid for a request (set by the WeChat provider's OAuth module); None: unknown
    openid_lookup: OpenIdLookup | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _kick: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def provider(self) -> PaymentProvider:
        """The first enabled provider (the default when a checkout names no method)."""
        return next(iter(self.providers.values()))

    def provider_named(self, name: str) -> PaymentProvider | None:
        """An enabled provider; in development the sandbox always answers too (its page and webhooks)."""
        found = self.providers.get(name)
        if found is None and name == "sandbox" and self.ctx.settings.is_development:
            return self.sandbox
        return found

    def provider_for(self, method: PayMethod) -> PaymentProvider | None:
        """The first enabled provider offering this method."""
        return next((p for p in self.providers.values() if method in p.methods), None)

    def methods(self) -> list[tuple[PayMethod, PaymentProvider]]:
        """Every enabled method with its provider, in the configured order."""
        return [(method, p) for p in self.providers.values() for method in p.methods]

    async def on_chat(self, event: Event) -> None:
        """A chat line carrying an open keyword draw's keyword enters its author (needs ``text`` in the event)."""
        from knowcast.commerce import draws

        text, room_id, user_id = event.data.get("text"), event.data.get("room_id"), event.data.get("user_id")
        if not isinstance(text, str) or not isinstance(room_id, int) or not isinstance(user_id, int):
            return
        async with self.ctx.db.session() as session:
            await draws.enter_by_comment(session, self.ctx, room_id, user_id, text)

    def note_sold(self, sale_id: int) -> None:
        self.dirty.add(sale_id)

    def kick(self) -> None:
        """Run the sweeper now (after a checkout action queued a webhook)."""
        self._kick.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._sweep_loop(), name="commerce-sweeper"),
            asyncio.create_task(self._stock_loop(), name="flash-stock"),
        ]
        if any(name != "sandbox" for name in self.providers):
            self._tasks.append(asyncio.create_task(self._reconcile_loop(), name="payments-reconcile"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.writer.stop()
        await self.gate.close()
        for provider in self.providers.values():
            await provider.close()
        await self.http.aclose()

    async def _sweep_loop(self) -> None:
        from knowcast.commerce import sweeper

        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.ctx.settings.commerce_sweep_seconds)
            self._kick.clear()
            await sweeper.sweep_once(self.ctx)

    async def _reconcile_loop(self) -> None:
        """Yesterday's statements, once a day per provider, after the bills are out (reconcile.nightly)."""
        from knowcast.commerce import reconcile

        while True:
            try:
                await reconcile.nightly(self.ctx)
            except Exception:
                log.exception("nightly reconciliation failed")
            await asyncio.sleep(RECONCILE_CHECK_SECONDS)

    async def _stock_loop(self) -> None:
        from knowcast.commerce import flash

        while True:
            await asyncio.sleep(STOCK_TICK)
            dirty, self.dirty = self.dirty, set()
            for sale_id in dirty:
                try:
                    await flash.publish_stock(self.ctx, sale_id)
                except Exception:
                    log.exception("stock event failed", extra={"sale_id": sale_id})


def build_gate(ctx: AppContext) -> FlashGate:
    if ctx.settings.redis_url:
        from knowcast.commerce.redis_gate import RedisGate

        return RedisGate(ctx.settings.redis_url)
    return MemoryGate()


ProviderFactory = Callable[[AppContext], PaymentProvider]


def _stripe(ctx: AppContext) -> PaymentProvider:
    from knowcast.commerce.providers.stripe import StripeProvider

    s = ctx.settings
    return StripeProvider(s.stripe_secret_key, s.stripe_webhook_secret, s.stripe_api_base, s.stripe_account)


def _alipay(ctx: AppContext) -> PaymentProvider:
    from knowcast.commerce.providers.alipay import from_settings

    return from_settings(ctx.settings)


def _wechat(ctx: AppContext) -> PaymentProvider:
    from knowcast.commerce.providers.wechat import from_settings

    return from_settings(ctx.settings)


# name in KNOWCAST_PAYMENT_PROVIDERS -> how to build it from the settings (imported lazily: each SDK only
# loads when its provider is enabled). The sandbox is built by install() itself.
PROVIDERS: dict[str, ProviderFactory] = {
    "stripe": _stripe,
    "alipay": _alipay,
    "wechat": _wechat,
}


def build_providers(ctx: AppContext, sandbox: SandboxProvider) -> dict[str, PaymentProvider]:
    names = ctx.settings.payment_provider_names or ["sandbox"]
    known = ["sandbox", *PROVIDERS]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"KNOWCAST_PAYMENT_PROVIDERS names unknown providers {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return {name: sandbox if name == "sandbox" else PROVIDERS[name](ctx) for name in names}


def install(ctx: AppContext) -> CommerceRuntime:
    """Build the runtime, hang it on the context and register it as a Component."""
    settings = ctx.settings
    settings.check_payments_for_production()
    secret = secret_from(settings.secret_key, settings.payment_webhook_secret)
    sandbox = SandboxProvider(settings.public_url, secret, ctx.db)
    rt = CommerceRuntime(
        ctx=ctx,
        gate=build_gate(ctx),
        writer=FlashWriter(ctx.db),
        providers=build_providers(ctx, sandbox),
        sandbox=sandbox,
        sessions=buyers.SessionLookups(ctx.db, settings.flash_session_cache_seconds),
    )
    from knowcast.commerce.mine import MyShopLookups
    from knowcast.commerce.room_snapshot import ClaimLookups, RoomSnapshots  # it builds on this module

    rt.snapshots, rt.claims, rt.mine = RoomSnapshots(ctx), ClaimLookups(ctx), MyShopLookups(ctx)
    rt.snapshots.install()
    from knowcast.commerce import snapshot_path

    snapshot_path.install(ctx)  # the snapshot rides the live socket's welcome
    ctx.provide(rt)
    ctx.provide(rt.sessions)  # who is buying (commerce.buyers reaches it without importing this module)
    if "wechat" in rt.providers:
        from knowcast.commerce import wechat_oauth

        wechat_oauth.install(ctx)  # the checkout learns the payer's openid (JSAPI)
    ctx.components.append(rt)
    ctx.bus.subscribe("chat.message", rt.on_chat)
    buyers.subscribe(ctx.bus)
    return rt
