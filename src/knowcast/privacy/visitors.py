"""Visitor ids as docs/metrics.md defines them.

A signed-in visitor who consented to analytics is counted by account id. Everyone else gets a cookieless
pseudonymous id: a keyed hash of the day's site salt, the address and the user agent. The salt rotates at
midnight in the shop's time zone (``KNOWCAST_TIMEZONE``, Asia/Shanghai by default: a UTC day would turn at 08:00 in
Beijing, in the middle of the morning's streams) and salts older than 48 hours are deleted, after which nobody
(us included) can link the ids back. A view that spans midnight keeps the visitor it started with: the analytics
intake also accepts the id the same person had under yesterday's salt (``previous``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.db.types import utcnow
from knowcast.privacy.models import VisitorSalt

SALT_DAYS_KEPT = 2


def consented_visitor(user_id: int) -> str:
    return f"u:{user_id}"


def local_day(zone: ZoneInfo) -> date:
    """Today in the shop's time zone: the day a salt belongs to."""
    return utcnow().astimezone(zone).date()


def _pseudonym(salt: str, ip: str, user_agent: str) -> str:
    digest = hmac.new(salt.encode(), f"{ip}\n{user_agent}".encode(), hashlib.sha256).hexdigest()
    return "p:" + digest[:32]


class VisitorIds:
    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        self.zone = ZoneInfo(timezone)
        self._salts: dict[date, str | None] = {}  # today's and yesterday's (None: yesterday had none)
        self._making = asyncio.Lock()  # one maker of a day's salt in this process; the crowd waits for it

    def use_timezone(self, timezone: str) -> None:
        self.zone, self._salts = ZoneInfo(timezone), {}

    def ready(self) -> bool:
        """Whether today's salt and yesterday's (or that it had none) are in memory, so that ids are worked out
        without the database (callers may then pass no session)."""
        today = local_day(self.zone)
        return self._salts.get(today) is not None and today - timedelta(days=1) in self._salts

    async def salt(self, session: AsyncSession | None, day: date) -> str:
        """The day's salt, made on first use.

        The first arrivals of a day (a crowd, at a storm's start) all find no salt: one makes it while the
        others wait and then read it, rather than each inserting and all but one failing. A failed statement
        on SQLite leaves its cursor to the garbage collector, which may free it on the event loop's thread
        while the connection's worker waits for the write lock: the whole process stopped for the busy
        timeout (docs/benchmarks.md, "Join storm")."""
        salt = await self._known(session, day)
        if salt is not None:
            return salt
        if session is None:
            raise RuntimeError("the day's salt is not in memory: a session is needed (see ready())")
        async with self._making:
            if self._salts.get(day) is None:
                await self._make(session, day)
        salt = self._salts.get(day)
        assert salt is not None
        return salt

    async def _make(self, session: AsyncSession, day: date) -> None:
        self._salts.pop(day, None)
        if await self._known(session, day) is not None:  # made by another process, or before we waited
            return
        session.add(VisitorSalt(day=day, salt=secrets.token_hex(32)))
        try:
            await session.commit()
        except IntegrityError:  # another process made the day's salt first; use theirs
            await session.rollback()
        self._salts.pop(day, None)
        await self._known(session, day)

    async def _known(self, session: AsyncSession | None, day: date) -> str | None:
        if day not in self._salts:
            if session is None:
                raise RuntimeError("the salt is not in memory: a session is needed (see ready())")
            row = await session.get(VisitorSalt, day)
            self._salts = {d: s for d, s in self._salts.items() if d >= day - timedelta(days=1)}
            self._salts[day] = row.salt if row is not None else None
        return self._salts[day]

    async def pseudonymous(self, session: AsyncSession | None, ip: str, user_agent: str) -> str:
        return _pseudonym(await self.salt(session, local_day(self.zone)), ip, user_agent)

    async def previous(self, session: AsyncSession | None, ip: str, user_agent: str) -> str | None:
        """The id the same address and agent had under yesterday's salt (None once that salt is gone or never
        existed): a view that started before midnight keeps its visitor."""
        salt = await self._known(session, local_day(self.zone) - timedelta(days=1))
        return _pseudonym(salt, ip, user_agent) if salt is not None else None

    async def visitor_id(
        self, session: AsyncSession | None, user_id: int | None, consented: bool, ip: str, user_agent: str
    ) -> str:
        if user_id is not None and consented:
            return consented_visitor(user_id)
        return await self.pseudonymous(session, ip, user_agent)


async def purge_old_salts(session: AsyncSession, zone: ZoneInfo) -> int:
    """Delete salts older than 48 hours (days in the shop's time zone); returns how many went."""
    cutoff = local_day(zone) - timedelta(days=SALT_DAYS_KEPT)
    old = list(await session.scalars(select(VisitorSalt.day).where(VisitorSalt.day < cutoff)))
    await session.execute(delete(VisitorSalt).where(VisitorSalt.day < cutoff))
    await session.commit()
    return len(old)
