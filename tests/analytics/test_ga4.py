"""GA4 Measurement Protocol forwarding, against a local HTTP receiver (the real Google endpoint is not
reachable from here, so a small server on loopback stands in for it and records what arrives)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from knowcast.analytics.ga4 import Ga4Forwarder
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.db.types import utcnow


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length"))
        body = json.loads(await reader.readexactly(length))
        received.append({"request": lines[0], "body": body})
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/mp/collect", received
    server.close()
    await server.wait_closed()


async def settled(forwarder: Ga4Forwarder, expected: int = 1) -> None:
    """Until the sender has an answer for ``expected`` events (the receiver records a request before the sender
    reads the response, so waiting on what arrived is a race)."""
    for _ in range(500):
        if forwarder.sent + forwarder.failed >= expected:
            return
        await asyncio.sleep(0.01)


async def test_consented_purchases_reach_ga4_and_pseudonymous_visitors_do_not(receiver: Any) -> None:
    url, received = receiver
    forwarder = Ga4Forwarder(url, "G-TEST123", "s3cret", "site-secret")
    await forwarder.start()
    now = utcnow()
    forwarder.offer(Record("order_paid", 7, now, visitor="u:42", order_id=9, amount=19900, currency="CNY"))
    forwarder.offer(Record("view_start", 7, now, visitor="p:abcdef", channel="wechat"))  # no consent: stays here
    forwarder.offer(Record("chat", 7, now, visitor="u:42"))  # not a GA4 event
    await settled(forwarder)
    await forwarder.stop()
    assert len(received) == 1
    request, body = received[0]["request"], received[0]["body"]
    assert (
        request.startswith("POST /mp/collect?")
        and "measurement_id=G-TEST123" in request
        and "api_secret=s3cret" in request
    )
    assert body["client_id"] == forwarder.client_id("u:42") and body["client_id"] != "u:42"  # a keyed hash leaves
    event = body["events"][0]
    assert event["name"] == "purchase"
    assert event["params"]["value"] == 199.0 and event["params"]["currency"] == "CNY"
    assert event["params"]["transaction_id"] == "9"
    assert forwarder.sent == 1 and forwarder.failed == 0


async def test_a_dead_ga4_endpoint_loses_events_but_blocks_nothing() -> None:
    forwarder = Ga4Forwarder("http://127.0.0.1:9/mp/collect", "G-X", "s", "k")
    await forwarder.start()
    forwarder.offer(Record("order_paid", 1, utcnow(), visitor="u:1", order_id=1, amount=100))
    await settled(forwarder)
    await forwarder.stop()
    assert forwarder.failed == 1


def test_the_forwarder_is_installed_only_when_the_shop_configures_it(settings: Any) -> None:
    from knowcast.app import create_app

    plain = create_app(settings)
    assert plain.state.ctx.runtime(AnalyticsRuntime).forwarder is None
    configured = settings.model_copy(update={"ga4_measurement_id": "G-1", "ga4_api_secret": "s"})
    app = create_app(configured)
    forwarder = app.state.ctx.runtime(AnalyticsRuntime).forwarder
    assert isinstance(forwarder, Ga4Forwarder) and forwarder in app.state.ctx.components


async def test_a_real_purchase_reaches_ga4_through_the_app(
    receiver: Any, shop: Any, make_user: Any, webhook_server: str, ctx: Any
) -> None:
    """The app's own path: a consented viewer's view, order and payment (commerce's API and the sandbox's
    webhook) go through the analytics runtime to the forwarder; a pseudonymous viewer's view stays here."""
    from knowcast.accounts.models import Role
    from knowcast.analytics.runtime import AnalyticsRuntime
    from knowcast.privacy.consent import COOKIE, GRANTED
    from tests.analytics.conftest import Browser
    from tests.commerce.conftest import pay

    url, received = receiver
    runtime = ctx.runtime(AnalyticsRuntime)
    forwarder = Ga4Forwarder(url, "G-SHOP", "s3cret", ctx.settings.secret_key)
    runtime.forwarder = forwarder
    await forwarder.start()
    product = await shop.shelved(kind="item", stock=3, price=1990)
    await Browser((await make_user(Role.VIEWER)).client, shop.room_id).send("view_start")  # not consented
    buyer = await make_user(Role.VIEWER)
    buyer.client.cookies.set(COOKIE, GRANTED)
    await Browser(buyer.client, shop.room_id).send("view_start", utm_source="wechat")
    body = {"items": [{"product_id": product["id"], "quantity": 1}], "room_id": shop.room_id}
    order = (await buyer.client.post("/api/v1/orders", json=body)).json()
    await pay(buyer.client, order["id"])
    await runtime.settle()
    await settled(forwarder, expected=3)
    await forwarder.stop()
    events = [(r["body"]["client_id"], e) for r in received for e in r["body"]["events"]]
    assert [e["name"] for _c, e in events] == ["page_view", "begin_checkout", "purchase"]
    assert {c for c, _e in events} == {forwarder.client_id(f"u:{buyer.user.id}")}
    purchase = events[-1][1]["params"]
    assert (purchase["transaction_id"], purchase["value"], purchase["currency"]) == (str(order["id"]), 19.9, "CNY")
    assert purchase["items"] == [{"item_id": str(product["id"]), "quantity": 1}] and purchase["source"] == "wechat"
