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
from dataclasses import dataclass, field

import httpx

from knowcast.bus import Event
from knowcast.commerce import buyers
from knowcast.commerce.gate import FlashGate, MemoryGate
from knowcast.commerce.providers.base import PaymentProvider
from knowcast.commerce.providers.sandbox import SandboxProvider, secret_from
from knowcast.commerce.writer import FlashWriter, SaleInfo
from knowcast.context import AppContext

log = logging.getLogger(__name__)
STOCK_TICK = 0.25


@dataclass
class CommerceRuntime:
    ctx: AppContext
    gate: FlashGate
    writer: FlashWriter
    provider: PaymentProvider
    sandbox: SandboxProvider
    sessions: buyers.SessionLookups  # who is buying: one session memory and lookup queue per app
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))
    sales: dict[int, tuple[float, SaleInfo]] = field(default_factory=dict)
    load_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _kick: asyncio.Event = field(default_factory=asyncio.Event)

    def provider_named(self, name: str) -> PaymentProvider | None:
        if name == self.provider.name:
            return self.provider
        return self.sandbox if name == "sandbox" and self.ctx.settings.is_development else None

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

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.writer.stop()
        await self.gate.close()
        await self.provider.close()
        await self.http.aclose()

    async def _sweep_loop(self) -> None:
        from knowcast.commerce import sweeper

        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.ctx.settings.commerce_sweep_seconds)
            self._kick.clear()
            await sweeper.sweep_once(self.ctx)

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


def build_provider(ctx: AppContext, sandbox: SandboxProvider) -> PaymentProvider:
    settings = ctx.settings
    if settings.payment_provider == "stripe":
        from knowcast.commerce.providers.stripe import StripeProvider

        return StripeProvider(settings.stripe_secret_key, settings.stripe_webhook_secret)
    return sandbox


def install(ctx: AppContext) -> CommerceRuntime:
    """Build the runtime, hang it on the context and register it as a Component."""
    settings = ctx.settings
    sandbox = SandboxProvider(settings.public_url, secret_from(settings.secret_key, settings.payment_webhook_secret))
    rt = CommerceRuntime(
        ctx=ctx,
        gate=build_gate(ctx),
        writer=FlashWriter(ctx.db),
        provider=build_provider(ctx, sandbox),
        sandbox=sandbox,
        sessions=buyers.SessionLookups(ctx.db, settings.flash_session_cache_seconds),
    )
    ctx.commerce = rt
    ctx.components.append(rt)
    ctx.bus.subscribe("chat.message", rt.on_chat)
    buyers.subscribe(ctx.bus)
    return rt


def runtime(ctx: AppContext) -> CommerceRuntime:
    rt = ctx.commerce
    assert rt is not None, "commerce runtime not installed (knowcast.commerce.runtime.install)"
    return rt
