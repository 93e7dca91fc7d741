"""The viewer's own part of a room's shop: their pending orders (so the pinned card and the flash banner say
"去支付" with the hold time left, even after a reload), the products they own ("已购买 · 去学习"), and the host's
coupons they hold. Everything else in the room's snapshot is the same for every viewer; this part never is,
and is never sent to anyone else.

The route (room_routes.snapshot) reads it for one viewer (``my_shop``); the snapshot's fast path, in a join
storm, for all the viewers arriving together in three queries (``MyShopLookups``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from knowcast.batches import Batches
from knowcast.catalog.kinds import ProductKind
from knowcast.commerce import entitlements
from knowcast.commerce.models import Entitlement, Order, OrderItem
from knowcast.commerce.promotions import Coupon, CouponClaim
from knowcast.commerce.schemas import CouponOut, MyShop, PendingOrder
from knowcast.commerce.states import OrderState
from knowcast.context import AppContext
from knowcast.db.types import utcnow

# what is bought once: owning it turns "buy" into "已购买 · 去学习" (a membership is renewed, a consultation
# booked again, a plain item bought again)
ONCE = frozenset({ProductKind.COURSE, ProductKind.FILE, ProductKind.REPLAY, ProductKind.TICKET})
BATCH = 400  # viewers per lookup: well under SQLite's bound on a statement's parameters
WINDOW = 0.005  # seconds a lone arrival waits for others to share its queries


def once(products: dict[int, ProductKind]) -> tuple[int, ...]:
    return tuple(sorted(pid for pid, kind in products.items() if kind in ONCE))


async def my_shop(session: AsyncSession, user_id: int, host_id: int, products: dict[int, ProductKind]) -> MyShop:
    """One viewer's own part (the route's), read as the crowd's is; ``products``: the room's shelf product ids
    with their kinds."""
    ask = _Ask(user_id, host_id, once(products))
    return (await session.run_sync(shops_now, [ask]))[ask]


@dataclass(frozen=True, slots=True)
class _Ask:
    user_id: int
    host_id: int
    once: tuple[int, ...]


class MyShopLookups:
    """Each arriving viewer's own part, for the viewers arriving together in three queries
    (knowcast/batches.py)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._batches: Batches[_Ask, MyShop] = Batches(self._read, size=BATCH, window=WINDOW)

    async def of(self, user_id: int, host_id: int, products: dict[int, ProductKind]) -> MyShop:
        return await self._batches.get(_Ask(user_id, host_id, once(products)))

    async def _read(self, asks: list[_Ask]) -> dict[_Ask, MyShop]:
        return await self.ctx.db.read(shops_now, asks)


_USERS: BindParameter[list[int]] = bindparam("users", expanding=True)
_NOW: BindParameter[datetime] = bindparam("now")
_PENDING_ROWS = (
    select(
        Order.id,
        Order.user_id,
        Order.host_id,
        Order.total,
        Order.currency,
        Order.reserved_until,
        Order.flash_sale_id,
        OrderItem.product_id,
    )
    .join(OrderItem, OrderItem.order_id == Order.id)
    .where(Order.user_id.in_(_USERS), Order.state == OrderState.PENDING, Order.reserved_until > _NOW)
    .order_by(Order.id)
)
_OWNED_ROWS = select(Entitlement.user_id, Entitlement.product_id).where(
    Entitlement.user_id.in_(_USERS),
    Entitlement.product_id.in_(bindparam("products", expanding=True)),
    entitlements.active_at(_NOW),  # type: ignore[arg-type]
)
_COUPON_FIELDS = tuple(CouponOut.model_fields)
_HELD = (
    select(
        Coupon.host_id,
        CouponClaim.user_id.label("holder"),
        CouponClaim.value.label("own_value"),  # a coupon-value experiment's value for this holder, if any
        *(Coupon.__table__.c[name] for name in _COUPON_FIELDS),
    )
    .join(CouponClaim, CouponClaim.coupon_id == Coupon.id)
    .where(CouponClaim.user_id.in_(_USERS), Coupon.ends_at > _NOW)
    .order_by(CouponClaim.id.desc())
)  # the three built once, plain rows (no ORM objects): a crowd's batches reuse their compiled forms


def shops_now(session: Session, asks: list[_Ask]) -> dict[_Ask, MyShop]:
    """Each ask's own part, in three queries for all of them (synchronous: a crowd's batch is read with
    ``Database.read``, one viewer's by ``my_shop``)."""
    users = sorted({ask.user_id for ask in asks})
    products = sorted({pid for ask in asks for pid in ask.once})
    now = utcnow()
    pending: dict[int, list[tuple[int, PendingOrder]]] = {}
    owned: dict[int, set[int]] = {}
    held: dict[int, list[tuple[int, CouponOut]]] = {}
    connection = session.connection()
    for order_id, user_id, host_id, total, currency, until, flash_sale_id, product_id in connection.execute(
        _PENDING_ROWS, {"users": users, "now": now}
    ):
        order = PendingOrder(
            order_id=order_id,
            product_id=product_id,
            total=total,
            currency=currency,
            reserved_until=until,
            flash_sale_id=flash_sale_id,
        )
        pending.setdefault(user_id, []).append((host_id, order))
    if products:
        for user_id, product_id in connection.execute(_OWNED_ROWS, {"users": users, "products": products, "now": now}):
            owned.setdefault(user_id, set()).add(product_id)
    for row in connection.execute(_HELD, {"users": users, "now": now}).mappings():
        fields = {name: row[name] for name in _COUPON_FIELDS}
        if row["own_value"] is not None:
            fields["value"] = row["own_value"]
        held.setdefault(row["holder"], []).append((row["host_id"], CouponOut(**fields)))
    return {
        ask: MyShop(
            pending=[p for host, p in pending.get(ask.user_id, []) if host == ask.host_id],
            owned=sorted(owned.get(ask.user_id, set()) & set(ask.once)),
            coupons=[c for host, c in held.get(ask.user_id, []) if host == ask.host_id],
        )
        for ask in asks
    }
