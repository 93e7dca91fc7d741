"""Lucky draws with a committed seed: the seed's SHA-256 is published when the draw opens, the seed itself
when it is drawn, and the winners follow from the seed and the list of entrants alone, so anyone can check
them with ``winners_from``. Prizes (a product given free, or a coupon) are granted automatically."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts import service as accounts
from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.catalog import service as catalog
from knowcast.commerce import announce, audience, coupons, entitlements, orders
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.promotions import CouponClaim, Draw, DrawCondition, DrawEntry, DrawState
from knowcast.commerce.schemas import DrawCreate, DrawOut
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound, PermissionDenied
from knowcast.realtime.hub import Hub
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room


def seed_hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def winners_from(seed: str, user_ids: list[int], wanted: int) -> list[int]:
    """Rank every entrant by SHA-256(seed:user id) and take the first ``wanted``: public and repeatable."""
    ranked = sorted(set(user_ids), key=lambda uid: hashlib.sha256(f"{seed}:{uid}".encode()).hexdigest())
    return ranked[:wanted]


async def draw_out(session: AsyncSession, draw: Draw) -> DrawOut:
    count = await session.scalar(select(func.count()).select_from(DrawEntry).where(DrawEntry.draw_id == draw.id))
    winners = await session.scalars(
        select(DrawEntry.user_id).where(DrawEntry.draw_id == draw.id, DrawEntry.won.is_(True))
    )
    return DrawOut(
        id=draw.id,
        room_id=draw.room_id,
        title=draw.title,
        condition=draw.condition,
        keyword=draw.keyword,
        audience=draw.audience,
        prize_product_id=draw.prize_product_id,
        prize_coupon_id=draw.prize_coupon_id,
        winners_wanted=draw.winners_wanted,
        state=draw.state,
        seed_hash=draw.seed_hash,
        seed=draw.seed if draw.state is DrawState.DRAWN else None,
        closes_at=draw.closes_at,
        entries=int(count or 0),
        winner_ids=sorted(winners),
    )


async def open_draw(session: AsyncSession, ctx: AppContext, host: User, room: Room, data: DrawCreate) -> Draw:
    if data.prize_product_id is not None:
        await catalog.get_managed_product(session, host, data.prize_product_id)
    if data.prize_coupon_id is not None:
        await coupons.get_managed(session, host, data.prize_coupon_id)
    await audience.check_named(session, ctx, room.host_id, data.audience)
    seed = secrets.token_hex(32)
    draw = Draw(
        audience=data.audience,
        room_id=room.id,
        title=data.title,
        condition=data.condition,
        keyword=data.keyword,
        prize_product_id=data.prize_product_id,
        prize_coupon_id=data.prize_coupon_id,
        winners_wanted=data.winners,
        seed=seed,
        seed_hash=seed_hash(seed),
        closes_at=utcnow() + timedelta(seconds=data.duration_seconds),
    )
    session.add(draw)
    await session.commit()
    out = await draw_out(session, draw)
    await ctx.bus.publish(
        Event(
            "draw.opened",
            {
                "room_id": room.id,
                **announce.system(ctx, "draw_opened", title=draw.title),
                "draw": out.model_dump(mode="json"),
            },
            to_room=True,
            system=True,
        )
    )
    return draw


async def get_draw(session: AsyncSession, draw_id: int) -> Draw:
    draw = await session.get(Draw, draw_id)
    if draw is None:
        raise NotFound("no such draw", code=CommerceCode.DRAW_NOT_FOUND)
    return draw


async def draws_of_room(session: AsyncSession, room_id: int) -> list[Draw]:
    return list(await session.scalars(select(Draw).where(Draw.room_id == room_id).order_by(Draw.id.desc())))


async def enter(session: AsyncSession, ctx: AppContext, user: User, draw: Draw, keyword: str | None) -> DrawEntry:
    if draw.state is not DrawState.OPEN or utcnow() >= draw.closes_at:
        raise Conflict("this draw is closed", code=CommerceCode.DRAW_CLOSED)
    room = await rooms.get_room(session, draw.room_id)
    await rooms.ensure_can_watch(session, user, room)
    await audience.ensure_member(session, ctx, room.host_id, draw.audience, user.id, "draw")
    if draw.condition is DrawCondition.KEYWORD and (
        not keyword or (draw.keyword or "").casefold() not in keyword.casefold()
    ):
        raise PermissionDenied("comment the keyword to enter", code=CommerceCode.DRAW_KEYWORD_REQUIRED)
    if draw.condition is DrawCondition.WATCHING and not ctx.runtime(Hub).is_present(draw.room_id, user.id):
        raise PermissionDenied("be in the live room to enter", code=CommerceCode.DRAW_WATCHING_REQUIRED)
    if draw.condition is DrawCondition.BOUGHT and not await entitlements.order_items_for_room(
        session, user.id, draw.room_id
    ):
        raise PermissionDenied("buy something in this room to enter", code=CommerceCode.DRAW_PURCHASE_REQUIRED)
    entry = DrawEntry(draw_id=draw.id, user_id=user.id)
    session.add(entry)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("you are already in this draw", code=CommerceCode.DRAW_ALREADY_ENTERED) from exc
    await ctx.bus.publish(Event("draw.entered", {"room_id": draw.room_id, "draw_id": draw.id, "user_id": user.id}))
    return entry


async def run_draw(session: AsyncSession, ctx: AppContext, draw: Draw) -> Draw:
    """Draw the winners, reveal the seed, grant the prizes, announce it in the room."""
    if draw.state is not DrawState.OPEN:
        raise Conflict("this draw is already drawn or cancelled", code=CommerceCode.DRAW_CLOSED)
    entries = list(await session.scalars(select(DrawEntry).where(DrawEntry.draw_id == draw.id)))
    chosen = set(winners_from(draw.seed, [e.user_id for e in entries], draw.winners_wanted))
    for entry in entries:
        entry.won = entry.user_id in chosen
    draw.state, draw.drawn_at = DrawState.DRAWN, utcnow()
    await session.commit()
    await _grant_prizes(session, ctx, draw, sorted(chosen))
    out = await draw_out(session, draw)
    data = {
        "room_id": draw.room_id,
        **announce.system(ctx, "draw_drawn", title=draw.title, count=len(out.winner_ids)),
        "draw": out.model_dump(mode="json"),
    }
    await ctx.bus.publish(Event("draw.drawn", data, to_room=True, system=True))
    return draw


async def _grant_prizes(session: AsyncSession, ctx: AppContext, draw: Draw, winners: list[int]) -> None:
    if draw.prize_product_id is not None:
        product = await catalog.get_product(session, draw.prize_product_id)
        for user_id in winners:
            await orders.give_free(session, ctx, user_id, product, draw.room_id)
    elif draw.prize_coupon_id is not None:
        for user_id in winners:
            if await coupons.grant(session, CouponClaim(coupon_id=draw.prize_coupon_id, user_id=user_id)):
                await session.commit()  # else the winner already held this coupon


async def draw_due(session: AsyncSession, ctx: AppContext) -> int:
    """Draw every open draw whose time is up (the sweeper calls this)."""
    due = list(
        await session.scalars(select(Draw).where(Draw.state == DrawState.OPEN, Draw.closes_at <= utcnow()).limit(20))
    )
    for draw in due:
        await run_draw(session, ctx, draw)
    return len(due)


async def enter_by_comment(session: AsyncSession, ctx: AppContext, room_id: int, user_id: int, text: str) -> bool:
    """A chat line that carries an open keyword draw's keyword enters its author (in every such draw)."""
    query = select(Draw.id, Draw.keyword).where(
        Draw.room_id == room_id, Draw.state == DrawState.OPEN, Draw.condition == DrawCondition.KEYWORD
    )
    matching = [
        draw_id
        for draw_id, keyword in await session.execute(query)
        if keyword and keyword.casefold() in text.casefold()
    ]
    entered = False
    for draw_id in matching:  # objects are loaded afresh for each: a refused entry rolls the session back
        try:
            await enter(session, ctx, await accounts.get_user(session, user_id), await get_draw(session, draw_id), text)
            entered = True
        except (Conflict, PermissionDenied):
            pass
    return entered
