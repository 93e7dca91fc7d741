"""One pass of commerce upkeep; the runtime runs it every ``commerce_sweep_seconds`` (and on a kick)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.commerce import draws, flash, orders, payments
from knowcast.context import AppContext

log = logging.getLogger(__name__)
Step = Callable[[AsyncSession, AppContext], Awaitable[object]]
STEPS: tuple[tuple[str, Step], ...] = (
    ("deliver sandbox webhooks", payments.deliver_webhooks),
    ("expire unpaid orders", orders.expire_due),
    ("recover missed payment notifications", payments.recover_missed),
    ("close abandoned checkouts at the provider", payments.close_abandoned),
    ("apply gate releases", orders.process_outbox),
    ("give back dead gate claims", flash.reconcile),
    ("close ended flash sales", flash.close_ended),
    ("draw due draws", draws.draw_due),
)


async def sweep_once(ctx: AppContext) -> None:
    for name, step in STEPS:
        try:
            async with ctx.db.session() as session:
                await step(session, ctx)
        except Exception:
            log.exception("commerce sweep step failed", extra={"step": name})
