"""Visitor ids as METRICS.md defines them.

A signed-in visitor who consented to analytics is counted by account id. Everyone else gets a cookieless
pseudonymous id: a keyed hash of the day's site salt, the address and the user agent. The salt rotates every UTC
day and salts older than 48 hours are deleted, after which nobody (us included) can link the ids back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.db.types import utcnow
from knowcast.privacy.models import VisitorSalt

SALT_DAYS_KEPT = 2


def consented_visitor(user_id: int) -> str:
    return f"u:{user_id}"


class VisitorIds:
    def __init__(self) -> None:
        self._salts: dict[date, str] = {}

    async def salt(self, session: AsyncSession, day: date) -> str:
        if day not in self._salts:
            row = await session.get(VisitorSalt, day)
            if row is None:
                row = VisitorSalt(day=day, salt=secrets.token_hex(32))
                session.add(row)
                try:
                    await session.commit()
                except IntegrityError:  # another process made today's salt first; use theirs
                    await session.rollback()
                    row = await session.get(VisitorSalt, day)
                    assert row is not None
            self._salts = {day: row.salt}
        return self._salts[day]

    async def pseudonymous(self, session: AsyncSession, ip: str, user_agent: str) -> str:
        salt = await self.salt(session, utcnow().date())
        digest = hmac.new(salt.encode(), f"{ip}\n{user_agent}".encode(), hashlib.sha256).hexdigest()
        return "p:" + digest[:32]

    async def visitor_id(
        self, session: AsyncSession, user_id: int | None, consented: bool, ip: str, user_agent: str
    ) -> str:
        if user_id is not None and consented:
            return consented_visitor(user_id)
        return await self.pseudonymous(session, ip, user_agent)


async def purge_old_salts(session: AsyncSession) -> int:
    """Delete salts older than 48 hours; returns how many went."""
    cutoff = utcnow().date() - timedelta(days=SALT_DAYS_KEPT)
    old = list(await session.scalars(select(VisitorSalt.day).where(VisitorSalt.day < cutoff)))
    await session.execute(delete(VisitorSalt).where(VisitorSalt.day < cutoff))
    await session.commit()
    return len(old)
