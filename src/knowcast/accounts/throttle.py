"""How failed sign-ins are counted, so that guessing is slow and nobody else can lock an owner out.

- Per account **and address**: ``LOGIN_ATTEMPTS_PER_ACCOUNT`` failures in ``LOGIN_WINDOW_SECONDS`` close that
  pair only. A guesser elsewhere exhausts their own pair, never the owner's.
- Per address: ``LOGIN_ATTEMPTS_PER_ADDRESS`` failures across all accounts (one address spraying many).
- Per account, from addresses it has never signed in from: once the account has more than
  ``LOGIN_ATTEMPTS_PER_ACCOUNT`` recent failures, each further try waits a delay that doubles with every
  failure (1 s, 2 s, 4 s … up to ``LOGIN_DELAY_MAX_SECONDS``), and ``LOGIN_ATTEMPTS_PER_ACCOUNT_TOTAL``
  failures in the window close the account to unknown addresses. Guessing from many addresses is slowed to
  a trickle.
- An address the account has signed in from before (the address of one of its sessions, or of a successful
  sign-in since this process started — sign-out deletes the session) is the owner's usual one: the
  account-wide delay and total do not apply there, only its own pair limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from knowcast.errors import ErrorCode, RateLimited
from knowcast.ratelimit import RateLimiter
from knowcast.settings import Settings

CODE = ErrorCode.AUTH_SIGNIN_RATE_LIMITED
USUAL_KEPT = 20  # usual addresses remembered per account


class SignInThrottle:
    def __init__(
        self,
        *,
        per_pair: int,
        per_address: int,
        per_account_total: int,
        window: float,
        delay_max: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pair = RateLimiter(per_pair, window, clock)
        self.address = RateLimiter(per_address, window, clock)
        self.account = RateLimiter(per_account_total, window, clock)
        self.free = per_pair  # account-wide failures before the delay starts
        self.delay_max = delay_max
        self._clock = clock
        self._usual: dict[str, list[str]] = {}  # account → addresses it signed in from in this process

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInThrottle:
        return cls(
            per_pair=settings.login_attempts_per_account,
            per_address=settings.login_attempts_per_address,
            per_account_total=settings.login_attempts_per_account_total,
            window=settings.login_window_seconds,
            delay_max=settings.login_delay_max_seconds,
        )

    def is_usual(self, account: str, address: str) -> bool:
        return address in self._usual.get(account, ())

    def check(self, account: str, address: str, *, usual_address: bool) -> None:
        """Raise RateLimited (with Retry-After) when this try must wait."""
        waits = [self.pair.retry_after(f"{account}|{address}"), self.address.retry_after(address)]
        if not usual_address:
            waits += [self.account.retry_after(account), self.delay(account)]
        wait = max(waits)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise RateLimited(f"too many sign-in attempts; try again in {seconds} s", retry_after=seconds, code=CODE)

    def delay(self, account: str) -> float:
        """Seconds left of the account's progressive delay (0 while it has had few failures)."""
        count, last = self.account.recent(account)
        if count < self.free or last is None:
            return 0.0
        return max(0.0, last + min(2.0 ** (count - self.free), self.delay_max) - self._clock())

    def failed(self, account: str, address: str) -> None:
        for limiter, key in ((self.pair, f"{account}|{address}"), (self.address, address), (self.account, account)):
            limiter.record(key)

    def succeeded(self, account: str, address: str) -> None:
        self.pair.reset(f"{account}|{address}")
        usual = self._usual.setdefault(account, [])
        if address not in usual:
            usual.append(address)
            del usual[:-USUAL_KEPT]
