"""Coupons: shop-wide or for one product, fixed or percent off, minimum spend, a validity window, total and
per-user limits; and coupon drops in a room (first come first served within a claim window).

Uses are counted by conditional UPDATEs (``used < total_limit``, per-user counters), never read-then-write.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.commerce import announce, audience, counters, ownership
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.offers import NOBODY, Viewer
from knowcast.commerce.promotions import Coupon, CouponClaim, CouponDrop, CouponKind
from knowcast.commerce.schemas import CouponCreate, CouponOut, DropCreate, DropOut
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, KnowcastError, NotFound, PermissionDenied, ValidationFailed


def coupon_out(coupon: Coupon, value: int | None = None) -> CouponOut:
    """``value``: this viewer's own value of the coupon (a coupon-value experiment), else the coupon's."""
    out = CouponOut.model_validate(coupon, from_attributes=True)
    return out if value is None else out.model_copy(update={"value": value})


async def create(session: AsyncSession, host: User, data: CouponCreate) -> Coupon:
    if host.role.value != "owner":  # a product coupon names one of the host's own products
        await ownership.ensure_owned(session, host.id, product_ids=[data.product_id])
    coupon = Coupon(host_id=host.id, **data.model_dump(exclude={"starts_at", "code"}))
    coupon.code = data.code.upper()
    coupon.starts_at = data.starts_at or utcnow()
    session.add(coupon)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("you already have a coupon with this code", code=CommerceCode.COUPON_CODE_TAKEN) from exc
    return coupon


async def get_managed(session: AsyncSession, host: User, coupon_id: int) -> Coupon:
    coupon = await session.get(Coupon, coupon_id)
    if coupon is None or (coupon.host_id != host.id and host.role.value != "owner"):
        raise NotFound("no such coupon", code=CommerceCode.COUPON_NOT_FOUND)
    return coupon


async def of_host(session: AsyncSession, host_id: int) -> list[Coupon]:
    return list(await session.scalars(select(Coupon).where(Coupon.host_id == host_id).order_by(Coupon.id.desc())))


def discount_for(coupon: Coupon | None, amounts: dict[int, int], value: int | None = None) -> int:
    """Minor units off: on the one product for a product coupon, on the whole order otherwise; never more
    than the amount it applies to. ``value`` replaces the coupon's (a coupon-value experiment's claim)."""
    if coupon is None:
        return 0
    base = amounts.get(coupon.product_id, 0) if coupon.product_id else sum(amounts.values())
    value = coupon.value if value is None else value
    off = value if coupon.kind is CouponKind.FIXED else base * value // 100
    return max(0, min(off, base))


async def check(
    session: AsyncSession, user: User, host_id: int, code: str, amounts: dict[int, int], currency: str
) -> Coupon:
    """The coupon for ``code`` if this order may use it; otherwise a Conflict saying why."""
    coupon = await session.scalar(select(Coupon).where(Coupon.host_id == host_id, Coupon.code == code.upper()))
    if coupon is None:
        raise NotFound("no such coupon", code=CommerceCode.COUPON_NOT_FOUND, fields={"coupon_code": "unknown"})
    problem = await why_not(session, user.id, coupon, amounts, currency)
    if problem is not None:
        raise problem
    return coupon


async def why_not(
    session: AsyncSession, user_id: int, coupon: Coupon, amounts: dict[int, int], currency: str, held: int = 0
) -> KnowcastError | None:
    """Why this buyer may not use ``coupon`` on an order of ``amounts``, or None when they may. ``held``: uses
    the order being re-priced holds already (they come back if it switches away from this coupon)."""
    now = utcnow()
    if now < coupon.starts_at:
        return Conflict("this coupon is not valid yet", code=CommerceCode.COUPON_NOT_STARTED)
    if now >= coupon.ends_at:
        return Conflict("this coupon has expired", code=CommerceCode.COUPON_EXPIRED)
    if coupon.currency != currency:
        return Conflict("this coupon is for another currency", code=CommerceCode.COUPON_WRONG_CURRENCY)
    if coupon.product_id is not None and coupon.product_id not in amounts:
        return Conflict("this coupon is for another product", code=CommerceCode.COUPON_WRONG_PRODUCT)
    base = amounts.get(coupon.product_id, 0) if coupon.product_id else sum(amounts.values())
    if base < coupon.min_spend:
        return Conflict("the order is below this coupon's minimum spend", code=CommerceCode.COUPON_MIN_SPEND)
    if coupon.total_limit is not None and coupon.used - held >= coupon.total_limit:
        return Conflict("this coupon has been used up", code=CommerceCode.COUPON_USED_UP)
    used = await counters.count_of(session, counters.coupon_scope(coupon.id), user_id) - held
    if used >= coupon.per_user_limit:
        return Conflict("you have used this coupon as often as allowed", code=CommerceCode.COUPON_LIMIT_REACHED)
    if coupon.claim_required and not await has_claim(session, coupon.id, user_id):
        return PermissionDenied("claim this coupon in the room first", code=CommerceCode.COUPON_NOT_CLAIMED)
    return None


async def redeem(session: AsyncSession, coupon: Coupon, user_id: int) -> bool:
    """Count one use (total and per user) atomically. Does not commit."""
    if not await counters.take(session, counters.coupon_scope(coupon.id), user_id, 1, coupon.per_user_limit):
        raise Conflict("you have used this coupon as often as allowed", code=CommerceCode.COUPON_LIMIT_REACHED)
    query = update(Coupon).where(Coupon.id == coupon.id)
    if coupon.total_limit is not None:
        query = query.where(Coupon.used < coupon.total_limit)
    result = await session.execute(query.values(used=Coupon.used + 1).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def unredeem(session: AsyncSession, coupon_id: int, user_id: int) -> None:
    """The order that used it was not paid: the use comes back. Does not commit."""
    await counters.give_back(session, counters.coupon_scope(coupon_id), user_id, 1)
    await session.execute(
        update(Coupon)
        .where(Coupon.id == coupon_id, Coupon.used > 0)
        .values(used=Coupon.used - 1)
        .execution_options(synchronize_session=False)
    )


async def has_claim(session: AsyncSession, coupon_id: int, user_id: int) -> bool:
    row = await session.scalar(
        select(CouponClaim.id).where(CouponClaim.coupon_id == coupon_id, CouponClaim.user_id == user_id)
    )
    return row is not None


async def claim_of(session: AsyncSession, coupon_id: int, user_id: int) -> CouponClaim | None:
    query = select(CouponClaim).where(CouponClaim.coupon_id == coupon_id, CouponClaim.user_id == user_id)
    found: CouponClaim | None = await session.scalar(query)
    return found


async def claims_of(session: AsyncSession, user_id: int) -> list[CouponOut]:
    """The coupons the user holds, each at the value they claimed it with."""
    query = (
        select(Coupon, CouponClaim.value)
        .join(CouponClaim, CouponClaim.coupon_id == Coupon.id)
        .where(CouponClaim.user_id == user_id)
        .order_by(CouponClaim.id.desc())
    )
    return [coupon_out(coupon, value) for coupon, value in (await session.execute(query)).tuples()]


# ---- drops ------------------------------------------------------------------------------------------------


async def drop_out(
    session: AsyncSession, drop: CouponDrop, viewer: Viewer = NOBODY, user_id: int | None = None
) -> DropOut:
    """The drop as everyone sees it, or as one viewer does: the value they claimed, else their variant's."""
    coupon = await session.get(Coupon, drop.coupon_id)
    assert coupon is not None
    held = await claim_of(session, coupon.id, user_id) if user_id is not None else None
    offered = viewer.coupon_value(coupon)
    value = held.value if held is not None else offered[0] if offered else None
    return DropOut(
        id=drop.id,
        room_id=drop.room_id,
        coupon=coupon_out(coupon, value),
        quantity=drop.quantity,
        claimed=drop.claimed,
        opens_at=drop.opens_at,
        closes_at=drop.closes_at,
        audience=drop.audience,
    )


async def start_drop(session: AsyncSession, ctx: AppContext, host: User, room_id: int, data: DropCreate) -> CouponDrop:
    coupon = await get_managed(session, host, data.coupon_id)
    now = utcnow()
    if coupon.ends_at <= now:
        raise ValidationFailed("this coupon has expired", code=CommerceCode.COUPON_EXPIRED)
    await audience.check_named(session, ctx, coupon.host_id, data.audience)
    drop = CouponDrop(
        audience=data.audience,
        room_id=room_id,
        coupon_id=coupon.id,
        quantity=data.quantity,
        opens_at=now,
        closes_at=now + timedelta(seconds=data.claim_seconds),
    )
    session.add(drop)
    await session.commit()
    out = await drop_out(session, drop)
    await ctx.bus.publish(
        Event(
            "coupon.drop_started",
            {
                "room_id": room_id,
                **announce.system(ctx, "drop", count=data.quantity),
                "drop": out.model_dump(mode="json"),
            },
            to_room=True,
            system=True,
        )
    )
    return drop


async def grant(session: AsyncSession, claim: CouponClaim) -> bool:
    """Give a user a claim on a coupon (a drop's, or a draw's prize); False, rolled back, if they hold one
    already (the unique claim row refuses a second). Flushes, does not commit."""
    session.add(claim)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def get_drop(session: AsyncSession, drop_id: int) -> CouponDrop:
    drop = await session.get(CouponDrop, drop_id)
    if drop is None:
        raise NotFound("no such coupon drop", code=CommerceCode.COUPON_DROP_NOT_FOUND)
    return drop


async def claim(session: AsyncSession, ctx: AppContext, user: User, drop_id: int, viewer: Viewer = NOBODY) -> CouponOut:
    """First come first served: one conditional UPDATE counts the claim, the unique claim row refuses a
    second claim by the same user. A viewer in a coupon-value experiment keeps their variant's value."""
    drop = await get_drop(session, drop_id)
    now = utcnow()
    if not drop.opens_at <= now < drop.closes_at:
        raise Conflict("this coupon drop is closed", code=CommerceCode.COUPON_DROP_CLOSED)
    coupon = await session.get(Coupon, drop.coupon_id)
    assert coupon is not None
    await audience.ensure_member(session, ctx, coupon.host_id, drop.audience, user.id, "coupon")
    offered = viewer.coupon_value(coupon)
    held = CouponClaim(coupon_id=coupon.id, user_id=user.id, drop_id=drop.id)
    if offered is not None:
        held.value, held.experiment, held.variant = offered[0], offered[1].experiment, offered[1].variant
    if not await grant(session, held):
        raise Conflict("you have already claimed this coupon", code=CommerceCode.COUPON_ALREADY_CLAIMED)
    result = await session.execute(
        update(CouponDrop)
        .where(CouponDrop.id == drop.id, CouponDrop.claimed < CouponDrop.quantity)
        .values(claimed=CouponDrop.claimed + 1)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        await session.rollback()
        raise Conflict("all of these coupons have been claimed", code=CommerceCode.COUPON_DROP_GONE)
    await session.commit()
    await session.refresh(drop)
    common = {"room_id": drop.room_id, "drop_id": drop.id}
    await ctx.bus.publish(Event("coupon.claimed", {**common, "coupon_id": coupon.id, "user_id": user.id}))
    await ctx.bus.publish(Event("coupon.left", {**common, "left": drop.quantity - drop.claimed}, to_room=True))
    return coupon_out(coupon, held.value)


async def active_drop(session: AsyncSession, room_id: int) -> CouponDrop | None:
    now = utcnow()
    query = select(CouponDrop).where(
        CouponDrop.room_id == room_id, CouponDrop.opens_at <= now, CouponDrop.closes_at > now
    )
    drop: CouponDrop | None = await session.scalar(query.order_by(CouponDrop.id.desc()).limit(1))
    return drop
