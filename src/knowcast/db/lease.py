"""Durable work queues in a table (the mail outbox, webhook deliveries): rows are claimed with a lease, so
several processes can work one queue and each attempt is made by exactly one of them; a failed attempt waits
longer each time."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession


def retry_delay(attempts: int, base: float, cap: float, rand: random.Random) -> float:
    """Seconds before the next attempt after ``attempts`` failures: doubling from ``base``, capped at ``cap``,
    with equal jitter (half fixed, half random) so receivers coming back up are not hit by every sender at once."""
    ceiling = min(cap, base * 2.0 ** min(attempts - 1, 60))
    return ceiling / 2 + rand.uniform(0, ceiling / 2)


async def claim(
    session: AsyncSession,
    model: Any,
    due: Iterable[int],
    claimable: tuple[ColumnElement[bool], ...],
    now: datetime,
    lease: timedelta,
) -> list[int]:
    """Claim each due row that is still claimable (one conditional UPDATE each, setting ``claimed_until``);
    the ids this call claimed. Commits."""
    claimed: list[int] = []
    for row_id in list(due):
        result = await session.execute(
            update(model)
            .where(model.id == row_id, *claimable)
            .values(claimed_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(row_id)
    await session.commit()
    return claimed
