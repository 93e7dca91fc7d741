"""What buyers own: granted when an order is paid, revoked when it is refunded; signed download links.

Nothing here commits: grants and revocations run inside the order's own transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.catalog import service as catalog
from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.models import Product
from knowcast.commerce.models import Entitlement, Order, OrderItem
from knowcast.commerce.states import EntitlementKind
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.timing import same_secret

KIND_FOR = {
    ProductKind.COURSE: EntitlementKind.COURSE,
    ProductKind.FILE: EntitlementKind.DOWNLOAD,
    ProductKind.CONSULTATION: EntitlementKind.CONSULTATION,
    ProductKind.MEMBERSHIP: EntitlementKind.MEMBERSHIP,
    ProductKind.TICKET: EntitlementKind.TICKET,
    ProductKind.REPLAY: EntitlementKind.REPLAY,
    ProductKind.ITEM: EntitlementKind.ITEM,
}


def active_at(now: Any) -> object:
    """An entitlement in force at ``now`` (a time, or a bind parameter standing for one), as a WHERE clause."""
    return and_(
        Entitlement.revoked_at.is_(None),
        Entitlement.starts_at <= now,
        or_(Entitlement.ends_at.is_(None), Entitlement.ends_at > now),
    )


async def grant_for_order(session: AsyncSession, ctx: AppContext, order: Order, items: list[OrderItem]) -> None:
    booked = await catalog.book_slot(session, order.id, order.user_id)
    for item in items:
        product = await session.get(Product, item.product_id)
        assert product is not None
        starts, ends = utcnow(), None
        if product.kind is ProductKind.MEMBERSHIP:
            starts = max(starts, await membership_end(session, order.user_id, product.host_id) or starts)
            ends = starts + timedelta(days=(product.membership_days or 30) * item.quantity)
        session.add(
            Entitlement(
                user_id=order.user_id,
                product_id=product.id,
                order_id=order.id,
                kind=KIND_FOR[product.kind],
                room_id=product.room_id,
                slot_id=item.slot_id if item.slot_id in booked else None,
                starts_at=starts,
                ends_at=ends,
            )
        )


async def revoke_for_order(session: AsyncSession, order_id: int) -> None:
    await session.execute(
        update(Entitlement)
        .where(Entitlement.order_id == order_id, Entitlement.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def revoke_products(session: AsyncSession, order_id: int, product_ids: list[int]) -> None:
    """A partial refund took these products of the order back."""
    await session.execute(
        update(Entitlement)
        .where(
            Entitlement.order_id == order_id,
            Entitlement.product_id.in_(product_ids),
            Entitlement.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def membership_end(session: AsyncSession, user_id: int, host_id: int) -> datetime | None:
    """When the user's current membership with this host ends (for stacking a renewal), if any."""
    query = (
        select(func.max(Entitlement.ends_at))
        .join(Product, Product.id == Entitlement.product_id)
        .where(
            Entitlement.user_id == user_id,
            Entitlement.kind == EntitlementKind.MEMBERSHIP,
            Entitlement.revoked_at.is_(None),
            Product.host_id == host_id,
            Entitlement.ends_at > utcnow(),
        )
    )
    return await session.scalar(query)


async def has_ticket(session: AsyncSession, user_id: int, room_id: int) -> bool:
    query = select(
        exists().where(
            Entitlement.user_id == user_id,
            Entitlement.kind == EntitlementKind.TICKET,
            Entitlement.room_id == room_id,
            active_at(utcnow()),  # type: ignore[arg-type]
        )
    )
    return bool(await session.scalar(query))


async def is_member(session: AsyncSession, user_id: int, host_id: int) -> bool:
    query = select(
        exists()
        .where(Product.id == Entitlement.product_id)
        .where(
            Entitlement.user_id == user_id,
            Entitlement.kind == EntitlementKind.MEMBERSHIP,
            Product.host_id == host_id,
            active_at(utcnow()),  # type: ignore[arg-type]
        )
    )
    return bool(await session.scalar(query))


async def owns_product(session: AsyncSession, user_id: int, product_id: int) -> bool:
    query = select(
        exists().where(
            Entitlement.user_id == user_id,
            Entitlement.product_id == product_id,
            active_at(utcnow()),  # type: ignore[arg-type]
        )
    )
    return bool(await session.scalar(query))


async def owned_since(session: AsyncSession, user_id: int, product_id: int) -> datetime | None:
    """When the user's active ownership of the product began (a course's drip release counts from here)."""
    query = select(func.min(Entitlement.starts_at)).where(
        Entitlement.user_id == user_id,
        Entitlement.product_id == product_id,
        active_at(utcnow()),  # type: ignore[arg-type]
    )
    since: datetime | None = await session.scalar(query)
    return since


async def owned_among(session: AsyncSession, user_id: int, product_ids: list[int]) -> set[int]:
    """Which of these products the user owns now (one query for a whole shelf)."""
    if not product_ids:
        return set()
    query = select(Entitlement.product_id).where(
        Entitlement.user_id == user_id,
        Entitlement.product_id.in_(product_ids),
        active_at(utcnow()),  # type: ignore[arg-type]
    )
    return set(await session.scalars(query))


async def library(session: AsyncSession, user_id: int) -> list[tuple[Entitlement, Product]]:
    """Everything the user owns now (active entitlements, newest first) with its product."""
    now = utcnow()
    query = (
        select(Entitlement, Product)
        .join(Product, Product.id == Entitlement.product_id)
        .where(Entitlement.user_id == user_id, Entitlement.revoked_at.is_(None))
        .where(or_(Entitlement.ends_at.is_(None), Entitlement.ends_at > now))
        .order_by(Entitlement.id.desc())
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


# ---- signed, expiring download links ---------------------------------------------------------------------


def _signature(secret: str, file_id: int, user_id: int, expires: int) -> str:
    message = f"download:{file_id}:{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def download_url(ctx: AppContext, file_id: int, user_id: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + ctx.settings.download_link_seconds)
    sig = _signature(ctx.settings.secret_key, file_id, user_id, expires)
    origin = ctx.settings.download_url.rstrip("/")  # "" : the site's own origin
    return f"{origin}/downloads/{file_id}?u={user_id}&e={expires}&s={sig}"


def check_download(ctx: AppContext, file_id: int, user_id: int, expires: int, sig: str) -> bool:
    """The link is ours and unexpired (the caller also checks the entitlement is still active)."""
    expected = _signature(ctx.settings.secret_key, file_id, user_id, expires)
    return same_secret(sig, expected) and expires >= time.time()


async def order_items_for_room(session: AsyncSession, user_id: int, room_id: int) -> bool:
    """Has the user a paid order from this room (a draw's "bought" condition)."""
    query = select(
        exists().where(
            Order.user_id == user_id,
            Order.room_id == room_id,
            Order.paid_at.is_not(None),
            Order.state.in_(("paid", "fulfilled")),
        )
    )
    return bool(await session.scalar(query))
