"""Per-user limits (a product, a flash sale, a coupon) kept as counters changed by conditional UPDATEs.

``take`` never reads then writes: it makes sure the row exists (insert-or-ignore) and then adds
``quantity`` only ``WHERE count + quantity <= limit``, so concurrent buys by one user cannot pass the limit.
None of these commit: they run inside the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.commerce.models import PurchaseCounter


def product_scope(product_id: int) -> str:
    return f"product:{product_id}"


def sale_scope(sale_id: int) -> str:
    return f"sale:{sale_id}"


def coupon_scope(coupon_id: int) -> str:
    return f"coupon:{coupon_id}"


async def _ensure_row(session: AsyncSession, scope: str, user_id: int) -> None:
    values = {"scope": scope, "user_id": user_id, "count": 0}
    if session.bind.dialect.name == "postgresql":
        await session.execute(postgresql.insert(PurchaseCounter).values(values).on_conflict_do_nothing())
    else:
        await session.execute(sqlite.insert(PurchaseCounter).values(values).on_conflict_do_nothing())


async def take(session: AsyncSession, scope: str, user_id: int, quantity: int, limit: int | None) -> bool:
    """Count ``quantity`` more for the user unless that would pass ``limit`` (None: no limit, no row)."""
    if limit is None:
        return True
    await _ensure_row(session, scope, user_id)
    result = await session.execute(
        update(PurchaseCounter)
        .where(
            PurchaseCounter.scope == scope,
            PurchaseCounter.user_id == user_id,
            PurchaseCounter.count + quantity <= limit,
        )
        .values(count=PurchaseCounter.count + quantity)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def give_back(session: AsyncSession, scope: str, user_id: int, quantity: int) -> None:
    await session.execute(
        update(PurchaseCounter)
        .where(PurchaseCounter.scope == scope, PurchaseCounter.user_id == user_id, PurchaseCounter.count >= quantity)
        .values(count=PurchaseCounter.count - quantity)
        .execution_options(synchronize_session=False)
    )


async def counts(session: AsyncSession, scope: str) -> dict[int, int]:
    rows = await session.execute(
        select(PurchaseCounter.user_id, PurchaseCounter.count).where(
            PurchaseCounter.scope == scope, PurchaseCounter.count > 0
        )
    )
    return {int(user_id): int(count) for user_id, count in rows}


async def count_of(session: AsyncSession, scope: str, user_id: int) -> int:
    value = await session.scalar(
        select(PurchaseCounter.count).where(PurchaseCounter.scope == scope, PurchaseCounter.user_id == user_id)
    )
    return int(value or 0)
