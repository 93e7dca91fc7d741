"""Growth pages: the notifications list, the embeddable room (/embed/rooms/{id}) and its first-party buy page.

The embed page is shown inside other sites' iframes, so it carries its own Content-Security-Policy with
``frame-ancestors`` listing the sites the owner allowed (growth/embed.py), and no X-Frame-Options. Buying
from it opens this site's buy page in a new tab: a top-level page gets the visitor's own (SameSite=Lax)
cookies over plain http as well as https, which a third-party iframe does not (docs/growth.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from knowcast.catalog import service as catalog
from knowcast.catalog.errors import CatalogCode
from knowcast.commerce import buying, shelf
from knowcast.commerce.schemas import ItemIn, OrderCreate
from knowcast.deps import Ctx, CurrentUser, Db, Id, MaybeUser, Public
from knowcast.errors import AuthenticationRequired, KnowcastError, NotFound, PermissionDenied
from knowcast.growth import embed, notifications
from knowcast.media import playback
from knowcast.media.runtime import media_of
from knowcast.money import money
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room
from knowcast.web.templating import pages_of as pages

router = APIRouter()


@router.get("/notifications")
async def notifications_page(request: Request, db: Db, user: CurrentUser) -> Response:
    listing = await notifications.listing(db, user.id)
    return pages(request).render(request, "growth_notifications.html", listing=listing)


@router.get("/embed/rooms/{room_id}", dependencies=[Public])
async def embed_room(request: Request, room_id: Id, db: Db, user: MaybeUser) -> Response:
    room = await rooms.get_room(db, room_id)
    locked: KnowcastError | None = None
    try:
        await rooms.ensure_can_watch(db, user, room)
    except (AuthenticationRequired, PermissionDenied) as error:
        locked = error
    products = await shelf.shelf_of(db, room.id) if locked is None else []
    player: dict[str, Any] = playback.page_context(media_of(request), room, can_watch=locked is None)
    response = pages(request).render(
        request, "growth_embed.html", 200, room=room, locked=locked, products=products, money=money, **player
    )
    response.headers.update(embed.headers_for([site.origin for site in await embed.sites(db)]))
    return response


async def _on_shelf(db: Db, room: Room, product_id: int) -> None:
    if all(entry.product.id != product_id for entry in await shelf.shelf_of(db, room.id)):
        raise NotFound("this product is not sold in this room", code=CatalogCode.PRODUCT_NOT_FOUND)


@router.get("/embed/rooms/{room_id}/buy/{product_id}")
async def buy_page(request: Request, room_id: Id, product_id: Id, db: Db, user: CurrentUser) -> Response:
    room = await rooms.get_room(db, room_id)
    await _on_shelf(db, room, product_id)
    product = await catalog.get_product(db, product_id)
    return pages(request).render(request, "growth_buy.html", room=room, product=product, money=money, error=None)


@router.post("/embed/rooms/{room_id}/buy/{product_id}")
async def buy(request: Request, room_id: Id, product_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    """Create the order (attributed to the room; the buyer's pending one for it is reused) and go to our
    checkout page (coupon, pay method for the device, hold time)."""
    room = await rooms.get_room(db, room_id)
    await _on_shelf(db, room, product_id)
    product = await catalog.get_product(db, product_id)
    try:
        order = await buying.buy(db, ctx, user, OrderCreate(items=[ItemIn(product_id=product.id)], room_id=room.id))
    except KnowcastError as error:
        page = pages(request)
        return page.render(
            request, "growth_buy.html", error.status_code, room=room, product=product, money=money, error=error
        )
    return RedirectResponse(f"/checkout/{order.id}", status_code=303)
