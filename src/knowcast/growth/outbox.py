"""The durable mail outbox: one row per message, claimed with a lease, retried with backoff.

A row is claimed by a conditional UPDATE that sets ``claimed_until``, so several processes can run workers
over one database and each attempt is made by exactly one of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.db import lease as lease_queue
from knowcast.db.types import utcnow
from knowcast.growth.models import MailJob, MailStatus
from knowcast.settings import Settings

ERROR = 300


@dataclass(frozen=True)
class Task:
    job_id: int
    user_id: int | None
    subject: str
    body: str
    attempts: int  # made before this one


def retry_delay(attempts: int, settings: Settings, rand: random.Random) -> float:
    """Seconds before the next attempt after ``attempts`` failures (knowcast.db.lease)."""
    return lease_queue.retry_delay(attempts, settings.mail_backoff_seconds, settings.mail_backoff_max_seconds, rand)


async def enqueue(session: AsyncSession, user_id: int, dedupe_key: str, subject: str, body: str) -> bool:
    """Queue one message unless one with this key was queued before. Does not commit."""
    if await session.scalar(select(MailJob.id).where(MailJob.dedupe_key == dedupe_key)) is not None:
        return False
    session.add(MailJob(user_id=user_id, dedupe_key=dedupe_key[:100], subject=subject, body=body))
    await session.flush()
    return True


def _claimable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        MailJob.status == MailStatus.PENDING,
        or_(MailJob.claimed_until.is_(None), MailJob.claimed_until < now),
    )


async def claim_due(session: AsyncSession, limit: int, lease: timedelta) -> list[Task]:
    now = utcnow()
    due = await session.scalars(
        select(MailJob.id)
        .where(*_claimable(now), MailJob.next_attempt_at <= now)
        .order_by(MailJob.next_attempt_at, MailJob.id)
        .limit(limit)
    )
    claimed = await lease_queue.claim(session, MailJob, due, _claimable(now), now, lease)
    if not claimed:
        return []
    rows = await session.scalars(select(MailJob).where(MailJob.id.in_(claimed)).order_by(MailJob.id))
    return [Task(r.id, r.user_id, r.subject, r.body, r.attempts) for r in rows]


async def record(
    session: AsyncSession, task: Task, error: str | None, retry_in: float, max_attempts: int, dropped: bool = False
) -> MailStatus:
    """Store one attempt's outcome and release the claim; the job's new status."""
    now = utcnow()
    attempts = task.attempts + (0 if dropped else 1)
    values: dict[str, object] = {
        "attempts": attempts,
        "claimed_until": None,
        "last_error": error[:ERROR] if error else None,
    }
    if dropped:
        status = MailStatus.DROPPED
        values["next_attempt_at"] = None
    elif error is None:
        status = MailStatus.SENT
        values.update(sent_at=now, next_attempt_at=None)
    elif attempts >= max_attempts:
        status = MailStatus.FAILED
        values["next_attempt_at"] = None
    else:
        status = MailStatus.PENDING
        values["next_attempt_at"] = now + timedelta(seconds=retry_in)
    values["status"] = status
    await session.execute(
        update(MailJob).where(MailJob.id == task.job_id).values(**values).execution_options(synchronize_session=False)
    )
    await session.commit()
    return status


async def next_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(MailJob.next_attempt_at)).where(MailJob.status == MailStatus.PENDING))


async def retry_now(session: AsyncSession) -> int:
    """Make every waiting message due now (an operator's "the mail server is back")."""
    result = await session.execute(
        update(MailJob)
        .where(MailJob.status == MailStatus.PENDING)
        .values(next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
