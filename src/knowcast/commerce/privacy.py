"""Commerce's part of the personal-data export and of account deletion (privacy/service.py lists both).

Orders, their items and payments stay after a deletion: the shop's books need them. They keep the account id,
and the account row itself is anonymized last (accounts.service), so nothing in them leads back to a person.
What only served the person goes: what they own, coupons they hold, purchase-limit counters, entries in draws
not yet drawn. Entries in drawn draws stay, so anyone can still check the published winners against the seed.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.catalog.models import Product
from knowcast.commerce.models import Entitlement, Order, OrderItem, Payment, PurchaseCounter
from knowcast.commerce.promotions import Coupon, CouponClaim, Draw, DrawEntry, DrawState
from knowcast.context import AppContext
from knowcast.privacy.records import Tables, row, rows, update_where
from knowcast.realtime.hub import Hub
from knowcast.rooms.models import Room
from knowcast.rooms.states import ON_AIR

ORDER_FIELDS = (
    "id",
    "state",
    "source",
    "room_id",
    "host_id",
    "currency",
    "subtotal",
    "discount",
    "total",
    "coupon_id",
    "flash_sale_id",
    "created_at",
    "paid_at",
    "closed_at",
    "variants",
)
ITEM_FIELDS = ("order_id", "product_id", "kind", "title", "quantity", "unit_price", "slot_id", "note")


async def export_personal_data(session: AsyncSession, user: User) -> Tables:
    return {**await _orders(session, user.id), **await _holdings(session, user.id), **await _draws(session, user.id)}


async def _orders(session: AsyncSession, user_id: int) -> Tables:
    orders = await session.scalars(select(Order).where(Order.user_id == user_id).order_by(Order.id))
    items = await session.scalars(
        select(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.user_id == user_id)
        .order_by(OrderItem.id)
    )
    payments = await session.scalars(
        select(Payment).join(Order, Order.id == Payment.order_id).where(Order.user_id == user_id).order_by(Payment.id)
    )
    return {
        "orders": rows(orders, *ORDER_FIELDS),
        "order_items": rows(
            items, "order_id", "product_id", "kind", "title", "quantity", "unit_price", "slot_id", "note"
        ),
        "payments": rows(payments, "order_id", "provider", "state", "amount", "currency", "created_at"),
    }


async def _holdings(session: AsyncSession, user_id: int) -> Tables:
    owned = await session.execute(
        select(Entitlement, Product.title)
        .join(Product, Product.id == Entitlement.product_id)
        .where(Entitlement.user_id == user_id)
        .order_by(Entitlement.id)
    )
    claims = await session.execute(
        select(CouponClaim, Coupon.code)
        .join(Coupon, Coupon.id == CouponClaim.coupon_id)
        .where(CouponClaim.user_id == user_id)
        .order_by(CouponClaim.id)
    )
    counters = await session.scalars(select(PurchaseCounter).where(PurchaseCounter.user_id == user_id))
    return {
        "entitlements": [
            row(
                e, "product_id", "kind", "order_id", "room_id", "slot_id", "starts_at", "ends_at", "revoked_at", title=t
            )
            for e, t in owned.tuples()
        ],
        "coupon_claims": [
            row(c, "coupon_id", "drop_id", "value", "experiment", "variant", "claimed_at", code=code)
            for c, code in claims.tuples()
        ],
        "purchase_limits_used": rows(counters, "scope", "count"),
    }


async def _draws(session: AsyncSession, user_id: int) -> Tables:
    entries = await session.execute(
        select(DrawEntry, Draw)
        .join(Draw, Draw.id == DrawEntry.draw_id)
        .where(DrawEntry.user_id == user_id)
        .order_by(DrawEntry.id)
    )
    return {
        "draw_entries": [
            row(
                e,
                "draw_id",
                "entered_at",
                "won",
                room_id=d.room_id,
                title=d.title,
                state=d.state,
                seed_hash=d.seed_hash,
                seed=d.seed if d.state is DrawState.DRAWN else None,
            )
            for e, d in entries.tuples()
        ]
    }


async def erase_personal_data(session: AsyncSession, user: User) -> None:
    """Does not commit: it runs inside the deletion's transaction."""
    for model in (Entitlement, CouponClaim, PurchaseCounter):
        await session.execute(delete(model).where(model.user_id == user.id))
    open_draws = select(Draw.id).where(Draw.state == DrawState.OPEN)
    await session.execute(delete(DrawEntry).where(DrawEntry.user_id == user.id, DrawEntry.draw_id.in_(open_draws)))
    # the client's retry key and a consultation's note are the last things on an order that the buyer wrote
    await update_where(session, Order, Order.user_id == user.id, idempotency_key=None)
    await update_where(
        session, OrderItem, OrderItem.order_id.in_(select(Order.id).where(Order.user_id == user.id)), note=None
    )


async def forget_in_live_rooms(ctx: AppContext, user_id: int) -> None:
    """After the deletion commits: rooms on air (or whose recent lines this process holds) drop the lines that
    announced the person's orders ("小李 买了…"). The lines name the buyer by nickname only, never by id."""
    async with ctx.db.session() as session:
        found = await session.execute(
            select(Order.room_id, Order.id)
            .join(Room, Room.id == Order.room_id)
            .where(Order.user_id == user_id, (Room.state.in_(ON_AIR)) | Room.id.in_(list(ctx.runtime(Hub).rooms)))
        )
        by_room: dict[int, list[int]] = {}
        for room_id, order_id in found.tuples():
            if room_id is not None:
                by_room.setdefault(room_id, []).append(order_id)
    for room_id, order_ids in sorted(by_room.items()):
        data = {"room_id": room_id, "message_id": None, "by": None, "order_ids": order_ids}
        await ctx.bus.publish(Event("chat.hidden", data, to_room=True))
