"""A small Component that deletes the cookieless visitor ids' salts once they are older than 48 hours.

Once a day's salt is gone, nobody (us included) can link that day's pseudonymous visitor ids to an address and
user agent again (privacy.visitors, docs/metrics.md). It runs at start and then every hour, in every process; the
delete is idempotent, so several processes doing it at once is harmless.
"""

from __future__ import annotations

import asyncio
import logging

from knowcast import tasks
from knowcast.context import AppContext
from knowcast.privacy.visitors import VisitorIds, purge_old_salts

log = logging.getLogger(__name__)
EVERY_SECONDS = 3600.0


class PrivacyJanitor:
    def __init__(self, ctx: AppContext, every: float = EVERY_SECONDS) -> None:
        self.ctx = ctx
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def install(self) -> PrivacyJanitor:
        self.ctx.components.append(self)
        return self

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="privacy-janitor")

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None

    async def run_once(self) -> int:
        async with self.ctx.db.session() as session:
            return await purge_old_salts(session, self.ctx.runtime(VisitorIds).zone)

    async def _loop(self) -> None:
        while True:
            try:
                gone = await self.run_once()
                if gone:
                    log.info("old visitor salts deleted", extra={"salts": gone})
            except Exception:  # the next pass tries again
                log.exception("deleting old visitor salts failed")
            await asyncio.sleep(self.every)
