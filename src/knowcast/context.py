"""The app-wide collaborators, built once at start and handed to routes and services.

Shared plumbing only: the context imports no domain (an import-linter contract, and tests/test_architecture.py
checks that no import circle runs through it). What a domain brings — its runtime, and the collaborators that
live in a domain (the hub, the password hasher, the visitor ids, the sign-in throttle) — is provided on it
(``provide``) and reached one way, ``ctx.runtime(Kind)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from knowcast.bus import EventBus
from knowcast.db.engine import Database
from knowcast.observability import Metrics
from knowcast.ports import Audiences, Experiments, PersonalExporter, RoomFiguresOf
from knowcast.ratelimit import RateLimiter
from knowcast.settings import Settings

R = TypeVar("R")


class Component(Protocol):
    """Something with a life of its own inside the app (a hub, a supervisor, a sweeper)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Limits:
    """Plain rate limits (the sign-in throttle is accounts': ``ctx.runtime(SignInThrottle)``)."""

    signup_address: RateLimiter
    orders_account: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            signup_address=RateLimiter(settings.signup_per_address, 3600),
            orders_account=RateLimiter(settings.orders_per_minute, 60),
        )


@dataclass
class AppContext:
    settings: Settings
    db: Database
    bus: EventBus = field(default_factory=EventBus)
    limits: Limits | None = None
    metrics: Metrics = field(default_factory=Metrics)
    components: list[Component] = field(default_factory=list)
    runtimes: dict[type[Any], object] = field(default_factory=dict)  # each domain's runtime, by class (provide)
    experiments: Experiments | None = None  # set by analytics: None runs no experiments (knowcast.ports)
    audiences: Audiences = field(default_factory=Audiences)  # filled by growth and analytics (knowcast.ports)
    exporters: list[PersonalExporter] = field(default_factory=list)  # export parts of domains privacy can't import
    room_figures: RoomFiguresOf | None = None  # set by analytics: viewers per room for the studio (knowcast.ports)

    def __post_init__(self) -> None:
        if self.limits is None:
            self.limits = Limits.from_settings(self.settings)

    def provide(self, runtime: object) -> None:
        """Hang a domain's runtime on the app (its install hook does), to be found again by its class."""
        self.runtimes[type(runtime)] = runtime

    def runtime(self, kind: type[R]) -> R:
        """The one way to reach a domain's runtime: ``ctx.runtime(CommerceRuntime)``. The context names no
        domain; each domain's install hook provides its own. LookupError when that domain is not installed."""
        found = self.runtimes.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"{kind.__name__} is not installed on this app")
        return found

    def runtime_or_none(self, kind: type[R]) -> R | None:
        """As runtime(), for code that also runs without that domain (a bare context in a test or a command)."""
        found = self.runtimes.get(kind)
        return found if isinstance(found, kind) else None

    @property
    def limit(self) -> Limits:
        assert self.limits is not None
        return self.limits
