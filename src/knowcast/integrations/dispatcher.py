"""The webhook dispatcher (a Component): queues bus events for endpoints, then sends, signs and retries.

Queuing happens in the bus handler, so only committed actions reach it (services publish after commit).
Sending happens in one loop per process that claims due deliveries (see queue.py), POSTs them concurrently,
and records each outcome; it sleeps until the next retry is due, a new delivery arrives, or
``webhook_poll_seconds`` pass (for deliveries queued by another process).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import suppress
from datetime import datetime, timedelta

import httpx

from knowcast import __version__, tasks
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.integrations import queue, signing, webhooks
from knowcast.integrations.events import WebhookEvent
from knowcast.integrations.queue import Job, Outcome
from knowcast.integrations.urls import resolves_private

log = logging.getLogger(__name__)
BATCH = 20
PURGE_EVERY = timedelta(hours=1)


class WebhookDispatcher:
    def __init__(self, ctx: AppContext, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._rand = random.Random()
        self._purged_at: datetime | None = None

    def install(self) -> WebhookDispatcher:
        """Subscribe to the webhook events, join the app's components and be its runtime (``ctx.runtime``)."""
        for name in WebhookEvent:
            self.ctx.bus.subscribe(name.value, self.on_event)
        self.ctx.components.append(self)
        self.ctx.provide(self)
        return self

    async def on_event(self, event: Event) -> None:
        async with self.ctx.db.session() as session:
            queued = await queue.enqueue(session, event, self.settings)
        if queued:
            self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": f"Knowcast-Webhooks/{__version__}"},
        )
        self._task = asyncio.create_task(self._loop(), name="webhook-dispatcher")

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _loop(self) -> None:
        await self._adopt_legacy_secrets()
        while True:
            try:
                if await self.run_once() == BATCH:
                    continue  # more may be due right away
                await self._purge_now_and_then()
                delay = await self._idle_seconds()
            except Exception:
                log.exception("webhook dispatcher pass failed")
                delay = self.settings.webhook_poll_seconds
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()

    async def _adopt_legacy_secrets(self) -> None:
        try:
            async with self.ctx.db.session() as session:
                adopted = await webhooks.adopt_legacy_secrets(session, self.settings)
        except Exception:  # retried at the next start; until then those endpoints' attempts fail and retry
            log.exception("adopting webhook secrets from before migration 0401 failed")
            return
        if adopted:
            log.info("webhook secrets adopted", extra={"endpoints": adopted})

    async def _purge_now_and_then(self) -> None:
        """Drop finished deliveries older than ``webhook_log_days``, at most once per PURGE_EVERY."""
        now = utcnow()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        async with self.ctx.db.session() as session:
            await queue.purge(session, now - timedelta(days=self.settings.webhook_log_days))

    async def _idle_seconds(self) -> float:
        async with self.ctx.db.session() as session:
            due = await queue.next_due(session)
        poll = self.settings.webhook_poll_seconds
        return poll if due is None else min(poll, max(0.0, (due - utcnow()).total_seconds()))

    async def run_once(self) -> int:
        """Claim what is due and attempt it; the number of deliveries attempted."""
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds * 3 + 30)
        async with self.ctx.db.session() as session:
            jobs = await queue.claim_due(session, BATCH, lease)
        await asyncio.gather(*(self._attempt(job) for job in jobs))
        return len(jobs)

    async def _attempt(self, job: Job) -> None:
        outcome = await self.send(job)
        retry_in = queue.retry_delay(job.attempts + 1, self.settings, self._rand)
        async with self.ctx.db.session() as session:
            status = await queue.record(session, job, outcome, retry_in)
        log.info(
            "webhook attempt",
            extra={"delivery": job.delivery_id, "status_code": outcome.status_code, "result": status.value},
        )

    async def send(self, job: Job) -> Outcome:
        """One signed POST. Every failure (refused address, network, timeout) becomes an Outcome, never raises."""
        assert self._client is not None, "the dispatcher is not started"
        if not self.settings.webhook_private_allowed and await resolves_private(job.url):
            return Outcome(error="the URL resolves to a private or local address")
        if job.secret is None:
            return Outcome(error="the endpoint's signing secret is not adopted yet (the dispatcher does it at start)")
        body = job.body.encode()
        secret = job.secret
        headers = {
            "Content-Type": "application/json",
            "Knowcast-Event": job.event_name,
            "Knowcast-Event-Id": job.event_id,
            "Knowcast-Delivery": str(job.delivery_id),
            signing.HEADER: signing.header_value(secret, int(time.time()), body),
        }
        try:
            async with (
                asyncio.timeout(self.settings.webhook_timeout_seconds),  # the whole exchange, not each read
                self._client.stream("POST", job.url, content=body, headers=headers) as response,
            ):
                snippet = await _read_some(response, queue.SNIPPET)
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(error="timed out")
        except httpx.HTTPError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return Outcome(status_code=response.status_code, snippet=snippet)


async def _read_some(response: httpx.Response, limit: int) -> str:
    """The start of the receiver's answer, without reading a huge body to the end."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", errors="replace")


def wake(ctx: AppContext) -> None:
    """Ask this process's dispatcher to look for due deliveries now (after a ping or redeliver)."""
    dispatcher = ctx.runtime_or_none(WebhookDispatcher)  # none in a command that installs no dispatcher
    if dispatcher is not None:
        dispatcher.wake()
