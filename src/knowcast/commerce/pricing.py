"""What an order costs, worked out on the server before it is created: its lines checked, each priced for this
buyer (the catalog price, or their variant's in a price experiment running in the room — offers.py), the
coupon checked and its discount (the value the buyer claimed, when a coupon experiment gave them their own).
Nothing the client sends is a price."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.models import Product
from knowcast.commerce import coupons, offers
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.promotions import Coupon
from knowcast.commerce.schemas import ItemIn, OrderCreate
from knowcast.context import AppContext
from knowcast.errors import NotFound, ValidationFailed
from knowcast.rooms.models import Room

SINGLE_UNIT = frozenset({ProductKind.CONSULTATION, ProductKind.MEMBERSHIP, ProductKind.TICKET, ProductKind.REPLAY})


@dataclass(frozen=True)
class Line:
    product: Product
    item: ItemIn
    unit_price: int

    @property
    def amount(self) -> int:
        return self.unit_price * self.item.quantity


@dataclass(frozen=True)
class Priced:
    lines: list[Line]
    discount: int = 0
    coupon: Coupon | None = None
    variants: dict[str, str] = field(default_factory=dict)

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def amounts(self) -> dict[int, int]:
        """Minor units per product (what a coupon's minimum spend and a product coupon look at)."""
        out: dict[int, int] = {}
        for line in self.lines:
            out[line.product.id] = out.get(line.product.id, 0) + line.amount
        return out


async def price_order(
    session: AsyncSession, ctx: AppContext, user: User, data: OrderCreate, visitor: offers.Visitor
) -> Priced:
    products = await _products(session, data)
    host_id, currency = products[0].host_id, products[0].currency
    viewer = offers.NOBODY
    if data.room_id is not None:
        await _check_room(session, data.room_id, host_id)
        viewer = await offers.viewer_in(ctx, session, host_id, data.room_id, visitor)
    lines = [Line(p, item, viewer.price(p.id, p.price)) for p, item in zip(products, data.items, strict=True)]
    priced = Priced(lines, variants=viewer.variants)
    if not data.coupon_code:
        return priced
    coupon = await coupons.check(session, user, host_id, data.coupon_code, priced.amounts, currency)
    claim = await coupons.claim_of(session, coupon.id, user.id)
    variants = dict(priced.variants)
    if claim is not None and claim.experiment and claim.variant:
        variants[claim.experiment] = claim.variant
    value = claim.value if claim is not None else None
    return Priced(lines, coupons.discount_for(coupon, priced.amounts, value), coupon, variants)


async def _products(session: AsyncSession, data: OrderCreate) -> list[Product]:
    products = []
    for item in data.items:
        product = await session.get(Product, item.product_id)
        if product is None or not product.is_active:
            raise NotFound(
                "no such product", code=CatalogCode.PRODUCT_NOT_FOUND, fields={"product_id": str(item.product_id)}
            )
        if product.kind in SINGLE_UNIT and item.quantity != 1:
            raise ValidationFailed(
                f"a {product.kind.value} is bought one at a time", code=CommerceCode.ORDER_ONE_PER_ITEM
            )
        if product.kind is ProductKind.CONSULTATION and item.slot_id is None:
            raise ValidationFailed(
                "choose a time slot", code=CommerceCode.ORDER_SLOT_REQUIRED, fields={"slot_id": "required"}
            )
        products.append(product)
    if len({p.host_id for p in products}) > 1 or len({p.currency for p in products}) > 1:
        raise ValidationFailed("one order holds one host's products in one currency", code=CommerceCode.ORDER_MIXED)
    return products


async def _check_room(session: AsyncSession, room_id: int, host_id: int) -> None:
    """An order placed from a room must name a room of the products' host (its experiments and its figures)."""
    room = await session.get(Room, room_id)
    if room is None or room.host_id != host_id:
        raise ValidationFailed("this room does not sell these products", code=CommerceCode.ORDER_WRONG_ROOM)
