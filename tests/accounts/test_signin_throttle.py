"""Failed sign-ins are counted per account and address (#14 point 13): five wrong passwords from an attacker
no longer lock the owner out of their usual address, while guessing on the account is still slowed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from knowcast import csrf
from knowcast.accounts.throttle import SignInThrottle
from knowcast.errors import RateLimited
from tests.conftest import PASSWORD, SECRET


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    """A client whose requests come from ``address`` (the ASGI scope's client)."""
    nonce = csrf.new_nonce()
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    client.cookies.set(csrf.COOKIE, nonce)
    client.headers["x-csrf-token"] = csrf.token_for(SECRET, nonce)
    return client


async def sign_in(app: Any, address: str, email: str, password: str) -> httpx.Response:
    async with client_from(app, address) as client:
        return await client.post("/api/v1/auth/signin", json={"email": email, "password": password})


async def test_an_attacker_elsewhere_cannot_lock_the_owner_out(app: Any, make_user: Any, ctx: Any) -> None:
    owner = await make_user()
    email = owner.user.email
    home, attacker, elsewhere = "198.51.100.7", "203.0.113.5", "203.0.113.99"
    assert (await sign_in(app, home, email, PASSWORD)).status_code == 200  # the owner's usual address
    limit = ctx.settings.login_attempts_per_account
    for n in range(limit):
        assert (await sign_in(app, attacker, email, f"guess {n}")).status_code == 401
    locked = await sign_in(app, attacker, email, "one more guess")
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "auth.signin_rate_limited"
    assert (await sign_in(app, home, email, PASSWORD)).status_code == 200  # was 429: locked out for everyone
    slowed = await sign_in(app, elsewhere, email, "guess from a fresh address")
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1  # guessing stays slow


async def test_a_sign_out_does_not_make_the_usual_address_a_stranger(app: Any, make_user: Any, ctx: Any) -> None:
    owner = await make_user()
    email, home = owner.user.email, "198.51.100.8"
    async with client_from(app, home) as client:
        assert (
            await client.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD})
        ).status_code == 200
        assert (await client.post("/api/v1/auth/signout")).status_code == 204
    for n in range(ctx.settings.login_attempts_per_account):
        await sign_in(app, f"203.0.113.{n}", email, "wrong")
    assert (await sign_in(app, home, email, PASSWORD)).status_code == 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **overrides: Any) -> SignInThrottle:
    options: dict[str, Any] = {"per_pair": 3, "per_address": 100, "per_account_total": 8, "window": 300.0}
    return SignInThrottle(**{**options, "delay_max": 8.0, **overrides}, clock=clock)


def test_guessing_from_many_addresses_waits_a_doubling_delay_then_stops() -> None:
    clock = Clock()
    guard = throttle(clock)
    waits = []
    for n in range(8):
        address = f"10.0.0.{n}"  # a new address every time: no pair limit ever bites
        try:
            guard.check("a@example.com", address, usual_address=False)
        except RateLimited as refused:
            waits.append(refused.retry_after)
            clock.now += refused.retry_after
            guard.check("a@example.com", address, usual_address=False)
        guard.failed("a@example.com", address)
    assert waits == [1, 2, 4, 8, 8]  # after 3 free failures: 1 s, 2 s, 4 s, then the 8 s maximum
    clock.now += 60
    with pytest.raises(RateLimited):
        guard.check("a@example.com", "10.0.1.1", usual_address=False)  # 8 failures: the total for strangers
    guard.check("a@example.com", "10.9.9.9", usual_address=True)  # the owner's usual address is still open
    clock.now += 301
    guard.check("a@example.com", "10.0.1.1", usual_address=False)  # the window passed


def test_the_pair_limit_holds_even_at_the_usual_address() -> None:
    clock = Clock()
    guard = throttle(clock)
    for _ in range(3):
        guard.check("a@example.com", "10.0.0.1", usual_address=True)
        guard.failed("a@example.com", "10.0.0.1")
    with pytest.raises(RateLimited):
        guard.check("a@example.com", "10.0.0.1", usual_address=True)
