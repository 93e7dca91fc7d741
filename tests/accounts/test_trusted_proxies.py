"""X-Forwarded-For is believed only from KNOWCAST_TRUSTED_PROXIES (#14 point 12).

Served by a real uvicorn with the options `knowcast serve` uses: uvicorn itself believed the header from any
local peer, so a guesser on the same host (or behind a careless proxy) got a fresh per-address sign-in limit
with every made-up address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knowcast import csrf
from knowcast.accounts.throttle import SignInThrottle
from knowcast.errors import ConfigError
from knowcast.ratelimit import RateLimiter
from knowcast.settings import Settings, load_settings
from tests.conftest import SECRET
from tests.realtime.harness import LiveApp, serve


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.model_copy(update={"trusted_proxies": getattr(request, "param", "")})


@pytest.fixture
async def live(app: Any) -> AsyncIterator[LiveApp]:
    async for server in serve(app):
        yield server


async def wrong_sign_ins(live: LiveApp, addresses: list[str]) -> list[int]:
    """One wrong password per made-up address, each for a different account (so only the address limit bites)."""
    nonce = csrf.new_nonce()
    headers = {"x-csrf-token": csrf.token_for(SECRET, nonce)}
    async with httpx.AsyncClient(base_url=live.base, cookies={csrf.COOKIE: nonce}, headers=headers) as client:
        answers = []
        for n, address in enumerate(addresses):
            body = {"email": f"nobody{n}@example.com", "password": "wrong-password"}
            answer = await client.post("/api/v1/auth/signin", json=body, headers={"x-forwarded-for": address})
            answers.append(answer.status_code)
        return answers


async def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(live: LiveApp) -> None:
    assert live.ctx.settings.trusted_proxies == ""  # the default: no proxy is trusted
    live.ctx.runtime(SignInThrottle).address = RateLimiter(3, 300)
    answers = await wrong_sign_ins(live, [f"203.0.113.{n}" for n in range(5)])
    assert answers == [401, 401, 401, 429, 429]  # every attempt counted against the real peer, 127.0.0.1


@pytest.mark.parametrize("settings", ["127.0.0.1"], indirect=True)
async def test_a_trusted_proxys_forwarded_address_is_the_clients(live: LiveApp) -> None:
    live.ctx.runtime(SignInThrottle).address = RateLimiter(3, 300)
    answers = await wrong_sign_ins(live, [f"203.0.113.{n}" for n in range(5)])
    assert answers == [401] * 5  # five different clients behind the proxy, one try each
    again = await wrong_sign_ins(live, ["203.0.113.9"] * 4)
    assert again[-1] == 429  # and one client behind it is still limited


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert load_settings(trusted_proxies="10.0.0.5, 172.16.0.0/12").trusted_proxy_list == ["10.0.0.5", "172.16.0.0/12"]
    with pytest.raises(ConfigError):
        load_settings(trusted_proxies="proxy.example")
