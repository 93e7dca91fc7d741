"""What one domain offers another without importing it: the experiments a viewer is in, the audiences a
coupon drop or a draw can be limited to, analytics' part of a person's data export, and the figures the
studio home shows for each room.

Analytics may not be imported by other domains (it learns everything from bus events), yet commerce must
charge a viewer their variant's price and limit a draw to a saved segment. So commerce asks these ports on
the context, and the domain that knows the answer fills them when it is installed (analytics: experiments and
segments; growth: followers). An app without analytics simply runs no experiments.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.errors import ErrorCode, ValidationFailed

if TYPE_CHECKING:
    from fastapi import Request

    from knowcast.accounts.models import User


@dataclass(frozen=True, slots=True)
class Assigned:
    """A viewer's variant in one running experiment."""

    experiment: str  # the experiment's key
    subject: str  # price | coupon | pitch | card
    variant: str
    payload: dict[str, Any]


class Experiments(Protocol):
    async def any_running(self, session: AsyncSession, host_id: int) -> bool: ...

    async def assigned(self, session: AsyncSession, host_id: int, room_id: int, visitor: str) -> list[Assigned]: ...

    async def visitor_of(self, request: Request, user: User | None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RoomFigures:
    """What analytics counted for one of a host's rooms (the studio home's cards)."""

    uv: int = 0  # unique viewers
    watch_minutes: int = 0
    reminders: int = 0  # reminders booked before it went live


RoomFiguresOf = Callable[[AsyncSession, int], Awaitable[dict[int, RoomFigures]]]  # (session, host id) -> by room


PersonalTables = dict[str, list[dict[str, Any]]]
PersonalExporter = Callable[[AsyncSession, "User"], Awaitable[PersonalTables]]  # a domain's part of an export


# ---- audiences ---------------------------------------------------------------------------------------------

Members = Callable[[AsyncSession, int, int | None], Awaitable[list[int]]]  # (session, host id, ref) -> user ids
AUDIENCE = re.compile(r"^(?P<kind>[a-z]+)(?::(?P<ref>[1-9][0-9]{0,9}))?$")
AUDIENCE_PATTERN = AUDIENCE.pattern


@dataclass
class Audiences:
    """Named audiences: ``followers`` (growth), ``segment:<id>`` (a saved analytics segment)."""

    sources: dict[str, Members] = field(default_factory=dict)

    def register(self, kind: str, members: Members) -> None:
        self.sources[kind] = members

    def parse(self, spec: str) -> tuple[str, int | None]:
        found = AUDIENCE.match(spec)
        if found is None or found["kind"] not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none"
            raise ValidationFailed(f"unknown audience {spec!r} (known: {known})", code=ErrorCode.AUDIENCE_UNKNOWN)
        return found["kind"], int(found["ref"]) if found["ref"] else None

    async def members(self, session: AsyncSession, host_id: int, spec: str) -> set[int]:
        """The accounts in the audience; raises a coded error for an unknown one (or someone else's segment)."""
        kind, ref = self.parse(spec)
        return set(await self.sources[kind](session, host_id, ref))

    async def includes(self, session: AsyncSession, host_id: int, spec: str, user_id: int) -> bool:
        return user_id in await self.members(session, host_id, spec)
