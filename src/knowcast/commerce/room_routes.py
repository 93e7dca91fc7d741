"""JSON API for selling in a room: shelf and pin, flash sales, coupons and drops, lucky draws."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from knowcast.accounts.models import User
from knowcast.commerce import coupons, draws, flash, mine, offers, orders, program_clock, shelf
from knowcast.commerce.buyers import BuyerId
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.promotions import DrawEntry, DrawState
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.schemas import (
    AttemptIn,
    AttemptOut,
    CouponCreate,
    CouponOut,
    DrawCreate,
    DrawEnter,
    DrawOut,
    DropCreate,
    DropOut,
    FlashSaleCreate,
    FlashSaleOut,
    OrderOut,
    PinIn,
    ShelfAdd,
    ShelfEntry,
)
from knowcast.deps import SESSION_COOKIE, Ctx, CurrentUser, Db, Host, Id, MaybeUser, Public
from knowcast.errors import Conflict
from knowcast.media.runtime import media_of
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room

router = APIRouter(prefix="/api/v1", tags=["commerce"])


async def viewer_of(request: Request, ctx: Ctx, db: Db, room: Room, user: User | None) -> offers.Viewer:
    """The caller's variants in the room's running experiments (their visitor id, computed here)."""
    return await offers.viewer_in(ctx, db, room.host_id, room.id, offers.visitor_of(request, ctx, user))


@router.get("/rooms/{room_id}/shelf", dependencies=[Public])
async def get_shelf(request: Request, room_id: Id, ctx: Ctx, db: Db, user: MaybeUser) -> list[ShelfEntry]:
    """The shelf as this viewer sees it (their price, card and pitch when the host runs experiments)."""
    viewer = await viewer_of(request, ctx, db, await rooms.get_room(db, room_id), user)
    return [viewer.dress(entry) for entry in await shelf.shelf_of(db, room_id)]


@router.post("/rooms/{room_id}/shelf", status_code=201)
async def add_to_shelf(room_id: Id, data: ShelfAdd, ctx: Ctx, db: Db, host: Host) -> list[ShelfEntry]:
    room = await rooms.get_managed_room(db, host, room_id)
    return await shelf.add(db, ctx, room, data.product_id)


@router.delete("/rooms/{room_id}/shelf/{product_id}")
async def remove_from_shelf(room_id: Id, product_id: Id, ctx: Ctx, db: Db, host: Host) -> list[ShelfEntry]:
    room = await rooms.get_managed_room(db, host, room_id)
    return await shelf.remove(db, ctx, room, product_id)


@router.post("/rooms/{room_id}/pin")
async def pin(request: Request, room_id: Id, data: PinIn, ctx: Ctx, db: Db, host: Host) -> ShelfEntry | None:
    """The pin carries the program time given, else the live stream's (program_clock.py), else now."""
    room = await rooms.get_managed_room(db, host, room_id)
    program_time = data.program_time or program_clock.program_now(media_of(request).store, room.id)
    return await shelf.pin(db, ctx, room, data.product_id, program_time)


@router.get("/rooms/{room_id}/commerce", dependencies=[Public])
async def snapshot(request: Request, room_id: Id, ctx: Ctx, db: Db, user: MaybeUser) -> dict[str, object]:
    """What a viewer's page needs on arrival: shelf, pin, the current sale, an open drop and draw — as this
    viewer sees them (``variants``: their experiment variants; the page reloads this when a change touches
    what they change).

    A signed-in viewer's session is remembered for the flash-sale hot path (buyers.SessionLookups) from here on.
    """
    room = await rooms.get_room(db, room_id)
    if user is not None:
        ctx.runtime(CommerceRuntime).sessions.remember(request.cookies.get(SESSION_COOKIE, ""), user.id)
    viewer = await viewer_of(request, ctx, db, room, user)
    inside = await rooms.can_watch(db, user, room)  # kept out: the shelf still sells the way in; nothing else shows
    sale = await flash.current_sale(db, room_id) if inside else None
    drop = await coupons.active_drop(db, room_id) if inside else None
    open_draws = [d for d in await draws.draws_of_room(db, room_id) if d.state is DrawState.OPEN] if inside else []
    user_id = user.id if user else None
    entries = await shelf.shelf_of(db, room_id)
    body: dict[str, object] = {
        "shelf": [viewer.dress(e).model_dump(mode="json") for e in entries],
        "sale": (await flash.sale_out(db, sale, ctx)).model_dump(mode="json") if sale else None,
        "drop": (await coupons.drop_out(db, drop, viewer, user_id)).model_dump(mode="json") if drop else None,
        "draw": (await draws.draw_out(db, open_draws[0])).model_dump(mode="json") if open_draws else None,
        "variants": viewer.variants,
    }
    if user is not None:  # the viewer's own part: pending orders, what they own, coupons they hold
        kinds = {e.product.id: e.product.kind for e in entries}
        body["mine"] = (await mine.my_shop(db, user.id, room.host_id, kinds)).model_dump(mode="json")
    if sale is not None:
        await db.close()  # loading the gate takes connections of its own: give this one back first
        await flash.warm(ctx, sale.id)
    return body


@router.post("/rooms/{room_id}/flash-sales", status_code=201)
async def create_sale(room_id: Id, data: FlashSaleCreate, ctx: Ctx, db: Db, host: Host) -> FlashSaleOut:
    room = await rooms.get_managed_room(db, host, room_id)
    return await flash.sale_out(db, await flash.create_sale(db, ctx, room, data), ctx)


@router.get("/rooms/{room_id}/flash-sales")
async def list_sales(room_id: Id, ctx: Ctx, db: Db, host: Host) -> list[FlashSaleOut]:
    await rooms.get_managed_room(db, host, room_id)
    return [await flash.sale_out(db, s, ctx) for s in await flash.sales_of_room(db, room_id)]


@router.get("/flash-sales/{sale_id}", dependencies=[Public])
async def get_sale(sale_id: Id, ctx: Ctx, db: Db, user: MaybeUser) -> FlashSaleOut:
    sale = await flash.get_sale(db, sale_id)
    await rooms.watchable_room(db, user, sale.room_id)
    return await flash.sale_out(db, sale, ctx)


@router.post("/flash-sales/{sale_id}/stop")
async def stop_sale(sale_id: Id, ctx: Ctx, db: Db, host: Host) -> FlashSaleOut:
    sale = await flash.get_sale(db, sale_id)
    await rooms.get_managed_room(db, host, sale.room_id)
    return await flash.sale_out(db, await flash.stop_sale(db, ctx, sale), ctx)


@router.post("/flash-sales/{sale_id}/attempts")
async def attempt(sale_id: Id, data: AttemptIn, ctx: Ctx, user_id: BuyerId) -> AttemptOut:
    """The hot path. Losers are answered by the gate; only winners reach the database (through the batch
    writer's own connection: the request holds none while it waits)."""
    result = await flash.attempt(ctx, user_id, sale_id, data.quantity, data.idempotency_key, None)
    return AttemptOut(outcome=result.outcome, order=result.summary)


@router.post("/coupons", status_code=201)
async def create_coupon(data: CouponCreate, db: Db, host: Host) -> CouponOut:
    return coupons.coupon_out(await coupons.create(db, host, data))


@router.get("/coupons")
async def list_coupons(db: Db, host: Host) -> list[CouponOut]:
    return [coupons.coupon_out(c) for c in await coupons.of_host(db, host.id)]


@router.get("/my/coupons")
async def my_coupons(db: Db, user: CurrentUser) -> list[CouponOut]:
    return await coupons.claims_of(db, user.id)


@router.post("/rooms/{room_id}/coupon-drops", status_code=201)
async def drop_coupon(room_id: Id, data: DropCreate, ctx: Ctx, db: Db, host: Host) -> DropOut:
    room = await rooms.get_managed_room(db, host, room_id)
    return await coupons.drop_out(db, await coupons.start_drop(db, ctx, host, room.id, data))


@router.post("/coupon-drops/{drop_id}/claim")
async def claim_coupon(request: Request, drop_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> CouponOut:
    """The claimer's coupon-value variant (if the host runs one) fixes their value at the claim."""
    drop = await coupons.get_drop(db, drop_id)
    viewer = await viewer_of(request, ctx, db, await rooms.get_room(db, drop.room_id), user)
    return await coupons.claim(db, ctx, user, drop.id, viewer)


@router.post("/rooms/{room_id}/draws", status_code=201)
async def open_draw(room_id: Id, data: DrawCreate, ctx: Ctx, db: Db, host: Host) -> DrawOut:
    room = await rooms.get_managed_room(db, host, room_id)
    return await draws.draw_out(db, await draws.open_draw(db, ctx, host, room, data))


@router.get("/rooms/{room_id}/draws", dependencies=[Public])
async def list_draws(room_id: Id, db: Db, user: MaybeUser) -> list[DrawOut]:
    room = await rooms.watchable_room(db, user, room_id)
    return [await draws.draw_out(db, d) for d in await draws.draws_of_room(db, room.id)]


@router.get("/draws/{draw_id}", dependencies=[Public])
async def get_draw(draw_id: Id, db: Db, user: MaybeUser) -> DrawOut:
    draw = await draws.get_draw(db, draw_id)
    await rooms.watchable_room(db, user, draw.room_id)
    return await draws.draw_out(db, draw)


@router.get("/draws/{draw_id}/entrants", dependencies=[Public])
async def entrants(draw_id: Id, db: Db, user: MaybeUser) -> dict[str, object]:
    """Everything needed to check a drawn draw: the seed, its committed hash and the entrants' ids."""
    draw = await draws.get_draw(db, draw_id)
    await rooms.watchable_room(db, user, draw.room_id)
    if draw.state is not DrawState.DRAWN:
        raise Conflict("the entrants are published once the draw is drawn", code=CommerceCode.DRAW_NOT_DRAWN)
    ids = sorted(await db.scalars(select(DrawEntry.user_id).where(DrawEntry.draw_id == draw.id)))
    return {"seed": draw.seed, "seed_hash": draw.seed_hash, "winners_wanted": draw.winners_wanted, "user_ids": ids}


@router.post("/draws/{draw_id}/entries", status_code=201)
async def enter_draw(draw_id: Id, data: DrawEnter, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    draw = await draws.get_draw(db, draw_id)
    await draws.enter(db, ctx, user, draw, data.keyword)
    return Response(status_code=201)


@router.post("/draws/{draw_id}/draw")
async def run_draw(draw_id: Id, ctx: Ctx, db: Db, host: Host) -> DrawOut:
    draw = await draws.get_draw(db, draw_id)
    await rooms.get_managed_room(db, host, draw.room_id)
    return await draws.draw_out(db, await draws.run_draw(db, ctx, draw))


@router.get("/rooms/{room_id}/orders")
async def room_orders(room_id: Id, db: Db, host: Host) -> list[OrderOut]:
    await rooms.get_managed_room(db, host, room_id)
    result = []
    for order in await orders.orders_of_room(db, room_id):
        buyer = await db.get(User, order.user_id)
        result.append(await orders.order_out(db, order, buyer.display_name if buyer else None))
    return result
