"""Every fast path (flash attempts, the commerce snapshot, the room page, the event intake) answers as the route
behind it: the same request sent with the fast paths on, then off (``FastPaths.on``, the switch
``KNOWCAST_FAST_PATHS`` sets), gets the same status, the same body to the byte and the same headers (the request
id aside, but for a client's own), for success and for each kind of error. Each pair also shows which path
answered: the routed answer wrote an access-log line, the fast one did not reach the app."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from knowcast.accounts.models import Role
from knowcast.context import AppContext
from knowcast.fast_paths import FastPaths
from tests.commerce.conftest import Shop, new_room
from tests.conftest import Client, Member

# what the client can tell apart (x-request-id is each request's own: compared when the client sends one)
HEADERS = (
    "content-type",
    "content-length",
    "content-language",
    "retry-after",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "permissions-policy",
    "content-security-policy",
)


@contextmanager
def routed(ctx: AppContext) -> Iterator[None]:
    switch = ctx.runtime(FastPaths)
    switch.on = False
    try:
        yield
    finally:
        switch.on = True


class Both:
    """Sends a request through the fast path and then through the route, and compares the two answers."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    async def send(
        self, client: Client, method: str, url: str, body: Callable[[], Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """``body``, when given, makes each request's JSON body afresh (for a request that must not repeat)."""

        async def request(**extra: str) -> httpx.Response:
            fresh = {"json": body()} if body is not None else {}
            headers = {**kwargs.get("headers", {}), **extra}
            return await client.request(method, url, **{**kwargs, **fresh, "headers": headers})

        self.records.clear()
        fast = await request()
        assert self._logged(url) == 0, f"{method} {url} was not answered by its fast path"
        with routed(self.ctx):
            slow = await request()
        assert self._logged(url) == 1, f"{method} {url} did not reach its route"
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
        assert {h: fast.headers.get(h) for h in HEADERS} == {h: slow.headers.get(h) for h in HEADERS}
        assert fast.headers["x-request-id"] and slow.headers["x-request-id"]
        long_id = "r" * 80  # a client's own id comes back, cut to 64 characters, on both paths
        with routed(self.ctx):
            slow_id = (await request(**{"x-request-id": long_id})).headers["x-request-id"]
        assert (await request(**{"x-request-id": long_id})).headers["x-request-id"] == slow_id == long_id[:64]
        return fast

    def _logged(self, url: str) -> int:
        return sum(1 for r in self.records if getattr(r, "path", "") == url)


@pytest.fixture
def both(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[Both]:
    """A Both that hears the access log itself (whatever another test did to logging's configuration)."""
    pair = Both(ctx)
    access_log = logging.getLogger("knowcast.http")
    monkeypatch.setattr(access_log, "disabled", False)
    level = access_log.level
    access_log.setLevel(logging.INFO)  # setLevel, not the attribute: the logger caches what it lets through
    handler = logging.Handler()
    handler.emit = pair.emit  # type: ignore[method-assign]
    access_log.addHandler(handler)
    yield pair
    access_log.removeHandler(handler)
    access_log.setLevel(level)


@pytest.fixture
async def shop(make_user: Any) -> Shop:
    host: Member = await make_user(Role.HOST)
    return Shop(host=host, room_id=await new_room(host))


async def test_flash_attempts_answer_alike(shop: Shop, make_user: Any, client_factory: Any, both: Both) -> None:
    product = await shop.shelved(stock=10)
    url = f"/api/v1/flash-sales/{(await shop.sale(product['id'], stock=1))['id']}/attempts"
    first: Member = await make_user(Role.VIEWER)
    second: Member = await make_user(Role.VIEWER)
    anonymous = await both.send(client_factory(), "POST", url, json={})
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "auth.required")
    forged = await both.send(first.client, "POST", url, json={}, headers={"x-csrf-token": "forged"})
    assert forged.json()["error"]["code"] == "auth.csrf_failed"
    no_token = client_factory(with_csrf=False)
    no_token.cookies = first.client.cookies
    missing = await both.send(no_token, "POST", url, json={})
    assert (missing.status_code, missing.json()["error"]["code"]) == (403, "auth.csrf_failed")
    invalid = await both.send(first.client, "POST", url, json={"quantity": -1, "extra": "x"})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "request.invalid"
    broken = await both.send(first.client, "POST", url, content=b"{nope", headers={"content-type": "application/json"})
    assert broken.json()["error"]["code"] == "request.invalid_json"
    unknown = await both.send(first.client, "POST", "/api/v1/flash-sales/424242/attempts", json={})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "flash.not_found")
    won = await both.send(first.client, "POST", url, json={"idempotency_key": "first-try-0001"})
    assert won.json()["outcome"] == "won" and won.json()["order"]["id"]  # the route replays the same order
    sold_out = await both.send(second.client, "POST", url, json={})
    assert sold_out.json() == {"outcome": "sold_out", "order": None, "checkout_url": None}
    again = await both.send(first.client, "POST", url, json={})
    assert again.json()["outcome"] == "limit_reached"


async def test_a_finished_sale_is_refused_alike(shop: Shop, make_user: Any, both: Both) -> None:
    product = await shop.shelved(stock=10)
    sale = await shop.sale(product["id"], stock=1)
    ended = await shop.host.client.post(f"/api/v1/flash-sales/{sale['id']}/stop")
    assert ended.status_code in (200, 204), ended.text
    buyer: Member = await make_user(Role.VIEWER)
    refused = await both.send(buyer.client, "POST", f"/api/v1/flash-sales/{sale['id']}/attempts", json={})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "flash.ended")


async def test_the_commerce_snapshot_answers_alike(shop: Shop, make_user: Any, client: Client, both: Both) -> None:
    await shop.shelved(stock=3)
    url = f"/api/v1/rooms/{shop.room_id}/commerce"
    anonymous = await both.send(client, "GET", url)
    assert anonymous.status_code == 200 and len(anonymous.json()["shelf"]) == 1
    viewer: Member = await make_user(Role.VIEWER)
    signed_in = await both.send(viewer.client, "GET", url)
    assert "mine" in signed_in.json()


async def test_the_room_page_answers_alike(shop: Shop, make_user: Any, client: Client, both: Both) -> None:
    page = await both.send(client, "GET", f"/rooms/{shop.room_id}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    viewer: Member = await make_user(Role.VIEWER, name="小明")
    named = await both.send(viewer.client, "GET", f"/rooms/{shop.room_id}")
    assert "小明" in named.text


async def test_the_event_intake_answers_alike(shop: Shop, make_user: Any, client: Client, both: Both) -> None:
    def batch() -> dict[str, Any]:  # a view is started once: each request starts its own
        return {"events": [{"kind": "view_start", "room_id": shop.room_id, "view_id": secrets.token_urlsafe(12)}]}

    anonymous = await both.send(client, "POST", "/api/v1/analytics/events", body=batch)
    assert anonymous.json() == {"accepted": 1, "rejected": 0, "reasons": {}}
    viewer: Member = await make_user(Role.VIEWER)
    signed_in = await both.send(viewer.client, "POST", "/api/v1/analytics/events", body=batch)
    assert signed_in.json() == {"accepted": 1, "rejected": 0, "reasons": {}}
