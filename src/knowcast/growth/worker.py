"""The reminder worker (a Component): fans out reminders of rooms that went live, then sends due mail.

``room.live`` only wakes it (going live never waits for mail). Each pass first turns un-notified bookings of
on-air rooms into notifications and queued mail (reminders.notify_live), then claims due messages from the
outbox, sends them over one connection, and records each outcome; a failure is retried with backoff. It
sleeps until the next retry is due, it is woken, or ``mail_poll_seconds`` pass.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast import tasks
from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.growth import outbox, reminders
from knowcast.growth.mailer import Mail, Mailer, build_mailer
from knowcast.growth.outbox import Task

log = logging.getLogger(__name__)
BATCH = 50


class ReminderWorker:
    def __init__(self, ctx: AppContext, mailer: Mailer | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.mailer = mailer or build_mailer(ctx.settings)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._rand = random.Random()

    def install(self) -> ReminderWorker:
        self.ctx.bus.subscribe("room.live", self.on_live)
        self.ctx.components.append(self)
        return self

    async def on_live(self, _event: Event) -> None:
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="growth-reminders")

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                busy = await self.run_once()
                delay = 0.0 if busy else await self._idle_seconds()
            except Exception:
                log.exception("reminder worker pass failed")
                delay = self.settings.mail_poll_seconds
            if delay > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()

    async def _idle_seconds(self) -> float:
        async with self.ctx.db.session() as session:
            due = await outbox.next_due(session)
        poll = self.settings.mail_poll_seconds
        return poll if due is None else min(poll, max(0.0, (due - utcnow()).total_seconds()))

    async def run_once(self) -> bool:
        """One pass; True when there may be more to do right away."""
        fanned = await self.fan_out()
        sent = await self.send_due()
        return fanned >= reminders.FAN_OUT_BATCH or sent >= BATCH

    async def fan_out(self) -> int:
        async with self.ctx.db.session() as session:
            rooms = await reminders.rooms_to_notify(session)
        total = 0
        for room_id in rooms:
            async with self.ctx.db.session() as session:
                total += await reminders.notify_live(session, self.ctx, room_id)
        return total

    async def send_due(self) -> int:
        lease = timedelta(seconds=self.settings.smtp_timeout_seconds * 3 + 30)
        async with self.ctx.db.session() as session:
            tasks = await outbox.claim_due(session, BATCH, lease)
            addresses = {t.job_id: await _address(session, t.user_id) for t in tasks}
        mails = [Mail(t.job_id, addresses[t.job_id] or "", t.subject, t.body) for t in tasks if addresses[t.job_id]]
        results = await self.mailer.send_batch(mails) if mails else {}
        async with self.ctx.db.session() as session:
            for task in tasks:
                await self._record(session, task, addresses[task.job_id] is None, results.get(task.job_id))
        return len(tasks)

    async def _record(self, session: AsyncSession, task: Task, dropped: bool, error: str | None) -> None:
        retry_in = outbox.retry_delay(task.attempts + 1, self.settings, self._rand)
        status = await outbox.record(session, task, error, retry_in, self.settings.mail_max_attempts, dropped)
        if error:
            log.warning("reminder mail failed", extra={"job": task.job_id, "error": error, "result": status.value})


async def _address(session: AsyncSession, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        return None
    return user.email or None


def worker_of(ctx: AppContext) -> ReminderWorker | None:
    return next((c for c in ctx.components if isinstance(c, ReminderWorker)), None)
