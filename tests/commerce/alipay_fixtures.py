"""The Alipay simulator served on loopback, and an AlipayProvider configured against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from knowcast.commerce.providers.alipay import AlipayProvider
from knowcast.context import AppContext
from knowcast.privacy import audit
from knowcast.settings import Settings
from tests.commerce.conftest import Shop
from tests.commerce.simulators import serve
from tests.commerce.simulators.alipay import AlipaySimulator, new_key, private_pem, public_pem
from tests.live_server import free_port

WEBHOOK = "/api/v1/payments/alipay/webhook"
APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


@dataclass
class AlipayKeys:
    app_private: str
    app_public: str


def app_keys() -> AlipayKeys:
    key = new_key()
    return AlipayKeys(private_pem(key), public_pem(key))


@contextmanager
def served(simulator: AlipaySimulator) -> Iterator[AlipaySimulator]:
    """The simulator on a loopback port, in a thread of its own (reachable from sync SDK calls, a separate
    server process and a sync browser test alike)."""
    with serve(simulator.app) as url:
        simulator.base_url = url
        yield simulator


def provider_for(simulator: AlipaySimulator, keys: AlipayKeys, notify_url: str) -> AlipayProvider:
    return AlipayProvider(
        app_id=simulator.app_id,
        app_private_key=keys.app_private,
        alipay_public_key=simulator.public_key,
        seller_id=simulator.seller_id,
        notify_url=notify_url,
        gateway=simulator.gateway_url,
        timeout=10,
    )


# ---- the shop (an app that takes Alipay, served on loopback) and a buyer's steps ---------------------------


@pytest.fixture
def keys() -> AlipayKeys:
    return app_keys()


@pytest.fixture
def alipay(keys: AlipayKeys) -> Iterator[AlipaySimulator]:
    simulator = AlipaySimulator(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=keys.app_public)
    with served(simulator) as running:
        yield running


@pytest.fixture
def hook_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, alipay: AlipaySimulator, keys: AlipayKeys, hook_port: int) -> Settings:
    """The shop takes Alipay only; its notification URL is the app served below on ``hook_port``."""
    settings.payment_providers = "alipay"
    settings.alipay_app_id = APP_ID
    settings.alipay_app_private_key = keys.app_private
    settings.alipay_public_key = alipay.public_key
    settings.alipay_seller_id = SELLER_ID
    settings.alipay_gateway = alipay.gateway_url
    settings.payment_webhook_url = f"http://127.0.0.1:{hook_port}"
    return settings


@pytest.fixture
async def served_app(app: Any, hook_port: int, alipay: AlipaySimulator) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=hook_port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{hook_port}"
    await alipay.settled()
    server.should_exit = True
    await task


async def pending_order(shop: Shop, buyer: Any, price: int = 6900, **fields: Any) -> dict[str, Any]:
    product = await shop.shelved(kind="course", price=price, **fields)
    response = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def checkout(buyer: Any, order_id: int, method: str = "alipay_wap") -> str:
    response = await buyer.client.post(f"/api/v1/orders/{order_id}/checkout", json={"method": method})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == method and body["qr_code"] is None
    return str(body["checkout_url"])


async def pay_at_cashier(url: str) -> httpx.Response:
    """The buyer's browser on Alipay: open the cashier, check the amount, press pay; returns the redirect home."""
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        cashier = await browser.get(url)
        assert cashier.status_code == 200, cashier.text
        return await browser.post(str(cashier.url).rstrip("/") + "/pay", follow_redirects=False)


async def refusals(ctx: AppContext) -> list[dict[str, Any]]:
    async with ctx.db.session() as session:
        return [dict(e.detail or {}) for e in await audit.recent(session, action="payment.notification_refused")]


async def state_of(buyer: Any, order_id: int) -> str:
    return str((await buyer.client.get(f"/api/v1/orders/{order_id}")).json()["state"])
