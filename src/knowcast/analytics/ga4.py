"""Optional forwarding to Google Analytics 4 through the Measurement Protocol (settings ``ga4_measurement_id``
and ``ga4_api_secret``). Only events of visitors who consented to analytics leave the server, under a keyed
hash of their visitor id as ``client_id``; amounts are sent in major units as GA4 expects.

A bounded queue and one sender task: a slow or failing GA4 endpoint loses events (counted), never blocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import httpx

from knowcast import tasks
from knowcast.analytics import records as r
from knowcast.analytics.records import Record
from knowcast.context import AppContext

if TYPE_CHECKING:
    from knowcast.analytics.runtime import AnalyticsRuntime

log = logging.getLogger(__name__)
QUEUE_MAX = 10_000
EVENTS_PER_REQUEST = 25  # the Measurement Protocol's limit
NAMES = {
    r.VIEW_START: "page_view",
    r.IMPRESSION: "view_item",
    r.CLICK: "select_item",
    r.SHARE: "share",
    r.ORDER_CREATED: "begin_checkout",
    r.ORDER_PAID: "purchase",
    r.ORDER_REFUNDED: "refund",
}


class Ga4Forwarder:
    def __init__(self, endpoint: str, measurement_id: str, api_secret: str, secret: str) -> None:
        self.url = endpoint
        self.params = {"measurement_id": measurement_id, "api_secret": api_secret}
        self.secret = secret
        self.queue: deque[tuple[str, dict[str, Any]]] = deque()
        self.sent = self.failed = self.dropped = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    def offer(self, rec: Record) -> None:
        name = NAMES.get(rec.kind)
        if name is None or not rec.visitor.startswith("u:"):
            return
        if len(self.queue) >= QUEUE_MAX:
            self.dropped += 1
            return
        self.queue.append((self.client_id(rec.visitor), {"name": name, "params": params_of(rec)}))
        self._wake.set()

    def client_id(self, visitor: str) -> str:
        return hmac.new(self.secret.encode(), f"ga4:{visitor}".encode(), hashlib.sha256).hexdigest()[:32]

    async def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=5)
        self._task = asyncio.create_task(self._run(), name="ga4-forwarder")

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        if self._http is not None:
            await self._http.aclose()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.queue:
                await self.send_some()

    async def send_some(self) -> None:
        """One request: the oldest client's next events (GA4 takes one client_id per request)."""
        client_id = self.queue[0][0]
        events: list[dict[str, Any]] = []
        while self.queue and self.queue[0][0] == client_id and len(events) < EVENTS_PER_REQUEST:
            events.append(self.queue.popleft()[1])
        assert self._http is not None
        try:
            response = await self._http.post(
                self.url, params=self.params, json={"client_id": client_id, "events": events}
            )
            response.raise_for_status()
            self.sent += len(events)
        except httpx.HTTPError:
            self.failed += len(events)
            log.warning("GA4 forwarding failed", extra={"events": len(events)})


def params_of(rec: Record) -> dict[str, Any]:
    params: dict[str, Any] = {"room_id": rec.room_id}
    if rec.channel:
        params["source"] = rec.channel
    if rec.product_id:
        params["items"] = [{"item_id": str(rec.product_id)}]
    if rec.kind in r.ORDER_KINDS:
        params.update(transaction_id=str(rec.order_id), value=rec.amount / 100, currency=rec.currency or "CNY")
        lines = (rec.data or {}).get("items") or []
        if lines:
            params["items"] = [{"item_id": str(x["product_id"]), "quantity": x["quantity"]} for x in lines]
    return params


def install_forwarder(ctx: AppContext, runtime: AnalyticsRuntime) -> Ga4Forwarder | None:
    settings = ctx.settings
    if not (settings.ga4_measurement_id and settings.ga4_api_secret):
        return None
    forwarder = Ga4Forwarder(
        settings.ga4_endpoint, settings.ga4_measurement_id, settings.ga4_api_secret, settings.secret_key
    )
    runtime.forwarder = forwarder
    ctx.components.append(forwarder)
    return forwarder
