"""The only code that creates orders and moves them through their states.

Every state change is one conditional UPDATE (``WHERE state = <expected>``), so a payment arriving while
the sweeper expires the same order cannot both win: exactly one of them sees its row change.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import Role, User
from knowcast.bus import Event
from knowcast.catalog import service as catalog
from knowcast.catalog.kinds import DIGITAL
from knowcast.catalog.models import Product
from knowcast.commerce import announce, counters, coupons, entitlements, offers, order_events, pricing, returns
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.models import Order, OrderItem, OutboxMessage, Payment
from knowcast.commerce.schemas import ItemOut, OrderCreate, OrderOut
from knowcast.commerce.states import OrderState, check_transition
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound


async def get_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound("no such order", code=CommerceCode.ORDER_NOT_FOUND)
    return order


async def get_order_for(session: AsyncSession, user: User, order_id: int) -> Order:
    """The buyer's own order, or one sold by a host they are; anyone else gets not-found (no leak)."""
    order = await session.get(Order, order_id)
    if order is None or not (order.user_id == user.id or order.host_id == user.id or user.role is Role.OWNER):
        raise NotFound("no such order", code=CommerceCode.ORDER_NOT_FOUND)
    return order


def own_order(user: User, order: Order) -> Order:
    """Only the buyer acts on their order as a buyer (the seller sees it, but does not pay or re-price it)."""
    if order.user_id != user.id:
        raise NotFound("no such order", code=CommerceCode.ORDER_NOT_FOUND)
    return order


async def items_of(session: AsyncSession, order_id: int) -> list[OrderItem]:
    return list(await session.scalars(select(OrderItem).where(OrderItem.order_id == order_id)))


def order_view(
    order: Order,
    items: list[ItemOut],
    checkout_url: str | None = None,
    buyer: str | None = None,
    refund_due: bool = False,
    refunded: int = 0,
    payment_method: str | None = None,
) -> OrderOut:
    """An order as its buyer or seller sees it, from rows already at hand (no database round trip)."""
    return OrderOut(
        id=order.id,
        state=order.state,
        source=order.source,
        room_id=order.room_id,
        currency=order.currency,
        subtotal=order.subtotal,
        discount=order.discount,
        total=order.total,
        coupon_id=order.coupon_id,
        flash_sale_id=order.flash_sale_id,
        items=items,
        reserved_until=order.reserved_until,
        created_at=order.created_at,
        paid_at=order.paid_at,
        checkout_url=checkout_url,
        buyer=buyer,
        refund_due=refund_due,
        refunded=refunded,
        payment_method=payment_method,
    )


async def order_out(session: AsyncSession, order: Order, buyer: str | None = None) -> OrderOut:
    payment = await session.scalar(
        select(Payment).where(Payment.order_id == order.id).order_by(Payment.id.desc()).limit(1)
    )
    items = [
        ItemOut(
            product_id=i.product_id,
            kind=i.kind,
            title=i.title,
            quantity=i.quantity,
            unit_price=i.unit_price,
            slot_id=i.slot_id,
            note=i.note,
        )
        for i in await items_of(session, order.id)
    ]
    return order_view(
        order,
        items,
        checkout_url=payment.checkout_url if payment and order.state is OrderState.PENDING else None,
        buyer=buyer,
        refund_due=bool(payment and payment.refund_due),
        refunded=payment.refunded if payment and not payment.refund_due else 0,
        payment_method=payment.method if payment else None,
    )


async def by_idempotency_key(session: AsyncSession, user_id: int, key: str) -> Order | None:
    found: Order | None = await session.scalar(
        select(Order).where(Order.user_id == user_id, Order.idempotency_key == key)
    )
    return found


# ---- creating ---------------------------------------------------------------------------------------------


async def create_order(
    session: AsyncSession,
    ctx: AppContext,
    user: User,
    data: OrderCreate,
    visitor: offers.Visitor = offers.anonymous,
) -> Order:
    """Reserve stock (until ``reserved_until``) and create a pending order, priced for this buyer
    (pricing.py; ``visitor`` gives their visitor id, which picks their experiment variants). The same
    idempotency key gives back the order it created the first time."""
    if data.idempotency_key:
        existing = await by_idempotency_key(session, user.id, data.idempotency_key)
        if existing is not None:
            return existing
    priced = await pricing.price_order(session, ctx, user, data, visitor)
    first = priced.lines[0].product
    order = Order(
        user_id=user.id,
        host_id=first.host_id,
        room_id=data.room_id,
        currency=first.currency,
        subtotal=priced.subtotal,
        discount=priced.discount,
        total=priced.subtotal - priced.discount,
        coupon_id=priced.coupon.id if priced.coupon else None,
        idempotency_key=data.idempotency_key,
        reserved_until=utcnow() + timedelta(minutes=ctx.settings.order_hold_minutes),
        variants=priced.variants or None,
    )
    session.add(order)
    try:
        await session.flush()
        await _reserve(session, order, priced.lines)
        if priced.coupon is not None and not await coupons.redeem(session, priced.coupon, user.id):
            raise Conflict("this coupon has been used up", code=CommerceCode.COUPON_USED_UP)
        await session.commit()
    except IntegrityError as exc:  # the same idempotency key twice at once: the other request won
        await session.rollback()
        if data.idempotency_key and (found := await by_idempotency_key(session, user.id, data.idempotency_key)):
            return found
        raise Conflict("the order could not be created", code=CommerceCode.ORDER_CONFLICT) from exc
    except Exception:
        await session.rollback()
        raise
    lines = [order_events.line(line.product.id, line.item.quantity, line.unit_price) for line in priced.lines]
    await ctx.bus.publish(order_events.order_event("order.created", order, lines))
    return order


async def _reserve(session: AsyncSession, order: Order, lines: list[pricing.Line]) -> None:
    for line in lines:
        product, quantity = line.product, line.item.quantity
        session.add(
            OrderItem(
                order_id=order.id,
                product_id=product.id,
                kind=product.kind,
                title=product.title,
                quantity=quantity,
                unit_price=line.unit_price,
                slot_id=line.item.slot_id,
                note=line.item.note,
            )
        )
        if not await counters.take(
            session, counters.product_scope(product.id), order.user_id, quantity, product.per_user_limit
        ):
            raise Conflict("you have reached the limit for this product", code=CommerceCode.ORDER_LIMIT_REACHED)
        if not await catalog.take_stock(session, product.id, quantity):
            raise Conflict(
                "not enough stock left",
                code=CommerceCode.ORDER_INSUFFICIENT_STOCK,
                fields={"product_id": str(product.id)},
            )
        if line.item.slot_id is not None and not await catalog.hold_slot(
            session, product.id, line.item.slot_id, order.id
        ):
            raise Conflict("that time slot is taken", code=CommerceCode.ORDER_SLOT_TAKEN)


# ---- moving -----------------------------------------------------------------------------------------------


async def _move(session: AsyncSession, order: Order, expected: OrderState, target: OrderState) -> bool:
    """One conditional UPDATE; True when this call made the move."""
    check_transition(expected, target)
    now = utcnow()
    values: dict[str, object] = {"state": target, "updated_at": now}
    if target is OrderState.PAID:
        values["paid_at"] = now
    elif target in (OrderState.REFUNDED, OrderState.CANCELLED, OrderState.EXPIRED):
        values["closed_at"] = now
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.state == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def close_unpaid(session: AsyncSession, ctx: AppContext, order: Order, target: OrderState) -> bool:
    """Cancel or expire a pending order and give back everything it held. False when it was not pending."""
    if not await _move(session, order, OrderState.PENDING, target):
        await session.rollback()
        return False
    items = await items_of(session, order.id)
    await returns.give_back(session, order, items)
    await catalog.release_slots(session, order.id)
    if order.coupon_id is not None:
        await coupons.unredeem(session, order.coupon_id, order.user_id)
    await session.commit()
    await session.refresh(order)
    await ctx.bus.publish(order_events.order_event(f"order.{target.value}", order, order_events.lines_of(items)))
    await process_outbox(session, ctx)
    return True


async def mark_paid(session: AsyncSession, ctx: AppContext, order: Order) -> bool:
    """Paid: grant what was bought and, for digital goods, fulfil at once. False when it was not pending."""
    if not await _move(session, order, OrderState.PENDING, OrderState.PAID):
        await session.rollback()
        return False
    items = await items_of(session, order.id)
    await entitlements.grant_for_order(session, ctx, order, items)
    if all(item.kind in DIGITAL for item in items):
        await _move(session, order, OrderState.PAID, OrderState.FULFILLED)
    await session.commit()
    await session.refresh(order)
    await ctx.bus.publish(order_events.order_event("order.paid", order, order_events.lines_of(items)))
    await _announce(session, ctx, order, items)
    return True


async def _announce(session: AsyncSession, ctx: AppContext, order: Order, items: list[OrderItem]) -> None:
    """A paid order from a room is shown in that room: "小李 买了《理财课》" (the public nickname only; the
    order event itself, with the buyer's id, price and variants, never goes to the room)."""
    if order.room_id is None or order.source == "draw":
        return
    buyer = await session.get(User, order.user_id)
    line = announce.system(ctx, "bought", name=buyer.display_name if buyer else "?", title=items[0].title)
    data = {"room_id": order.room_id, **line, "order_id": order.id}
    await ctx.bus.publish(Event("order.announced", data, to_room=True, system=True))


async def fulfil(session: AsyncSession, ctx: AppContext, order: Order) -> Order:
    """The host delivered a plain item."""
    if not await _move(session, order, OrderState.PAID, OrderState.FULFILLED):
        await session.rollback()
        await session.refresh(order)
        check_transition(order.state, OrderState.FULFILLED)
    await session.commit()
    await session.refresh(order)
    lines = order_events.lines_of(await items_of(session, order.id))
    await ctx.bus.publish(order_events.order_event("order.fulfilled", order, lines))
    return order


async def mark_refunded(session: AsyncSession, ctx: AppContext, order: Order) -> bool:
    """Money went back: revoke what was granted and give back its units (see returns.py) and the buyer's
    limit, except a plain item the host has already shipped. False when nothing changed."""
    await session.refresh(order)
    current = order.state
    if current not in (OrderState.PAID, OrderState.FULFILLED) or not await _move(
        session, order, current, OrderState.REFUNDED
    ):
        await session.rollback()
        return False
    await entitlements.revoke_for_order(session, order.id)
    await catalog.release_slots(session, order.id)
    items = await items_of(session, order.id)
    shipped = current is OrderState.FULFILLED
    await returns.give_back(session, order, [i for i in items if not (shipped and i.kind not in DIGITAL)])
    await session.commit()
    await session.refresh(order)
    await ctx.bus.publish(order_events.order_event("order.refunded", order, order_events.lines_of(items)))
    await process_outbox(session, ctx)
    return True


async def orders_of_user(session: AsyncSession, user_id: int, limit: int = 100) -> list[Order]:
    query = select(Order).where(Order.user_id == user_id).order_by(Order.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def orders_of_room(session: AsyncSession, room_id: int, limit: int = 200) -> list[Order]:
    query = select(Order).where(Order.room_id == room_id).order_by(Order.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def expire_due(session: AsyncSession, ctx: AppContext, batch: int = 200) -> int:
    """Expire pending orders whose reservation ran out (the sweeper calls this). Returns how many."""
    ids = list(
        await session.scalars(
            select(Order.id)
            .where(Order.state == OrderState.PENDING, Order.reserved_until < utcnow())
            .order_by(Order.reserved_until)
            .limit(batch)
        )
    )
    done = 0
    for order_id in ids:
        order = await session.get(Order, order_id)
        if order is not None and await close_unpaid(session, ctx, order, OrderState.EXPIRED):
            done += 1
    return done


async def process_outbox(session: AsyncSession, ctx: AppContext) -> None:
    """Apply committed gate releases to the flash gate (idempotent per order), then mark them done."""
    from knowcast.commerce import flash  # the gate lives with the flash sale

    rows = list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == "gate.release", OutboxMessage.delivered_at.is_(None))
            .limit(500)
        )
    )
    for row in rows:
        body = json.loads(row.body)
        await flash.release_to_gate(session, ctx, body["sale_id"], body["user_id"], body["quantity"], body["token"])
        row.delivered_at = utcnow()
    if rows:
        await session.commit()


async def give_free(
    session: AsyncSession, ctx: AppContext, user_id: int, product: Product, room_id: int | None
) -> Order:
    """A prize: a zero-total order outside the shop's stock, paid at once so the usual grants apply."""
    order = Order(
        user_id=user_id,
        host_id=product.host_id,
        room_id=room_id,
        currency=product.currency,
        subtotal=0,
        total=0,
        source="draw",
    )
    session.add(order)
    await session.flush()
    session.add(
        OrderItem(
            order_id=order.id,
            product_id=product.id,
            kind=product.kind,
            title=product.title,
            quantity=1,
            unit_price=0,
        )
    )
    await session.commit()
    await mark_paid(session, ctx, order)
    return order
