"""The Alipay simulator served on loopback, and an AlipayProvider configured against it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from knowcast.commerce.providers.alipay import AlipayProvider
from tests.commerce.simulators import serve
from tests.commerce.simulators.alipay import AlipaySimulator, new_key, private_pem, public_pem

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
