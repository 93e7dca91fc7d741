"""Auto-advance (a Component): runs a script's next step by itself at its planned time, when the host
marked that step ``auto``. It claims steps exactly like a console tap (show.run), so it never runs a step a
host already ran, and two processes running this loop never run one twice.
"""

from __future__ import annotations

import asyncio
import logging

from knowcast import tasks
from knowcast.accounts.models import User
from knowcast.context import AppContext
from knowcast.errors import KnowcastError
from knowcast.growth import show
from knowcast.rooms.models import Room

log = logging.getLogger(__name__)


class AutoShow:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None

    def install(self) -> AutoShow:
        self.ctx.components.append(self)
        return self

    async def start(self) -> None:
        async with self.ctx.db.session() as session:
            await show.fail_stale(session)
        self._task = asyncio.create_task(self._loop(), name="growth-autoshow")

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.show_tick_seconds)
            try:
                await self.run_once()
            except Exception:
                log.exception("auto-advance pass failed")

    async def run_once(self) -> int:
        async with self.ctx.db.session() as session:
            due = await show.due_auto_steps(session)
        ran = 0
        for room_id, step_id in due:
            async with self.ctx.db.session() as session:
                room = await session.get(Room, room_id)
                host = await session.get(User, room.host_id) if room else None
                if room is None or host is None:
                    continue
                try:
                    await show.run(session, self.ctx, host, room, step_id, "auto")
                    ran += 1
                except KnowcastError as error:  # taken by a tap meanwhile, or the action refused: recorded
                    log.info("auto step not run", extra={"step_id": step_id, "code": error.code})
        return ran
