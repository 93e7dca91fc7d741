"""Commerce's bus events: orders, the shelf, flash sales, coupons, draws, reconciliation.

Each bus event commerce publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from typing import Any

from knowcast.bus import Payload


class OrderLine(Payload):
    product_id: int
    quantity: int
    unit_price: int


class OrderChanged(Payload):
    """Every ``order.*`` but the room's announcement: one shape whichever path made the order (order_events.py;
    never sent to a room: it names the buyer and what they paid)."""

    order_id: int
    user_id: int
    host_id: int
    room_id: int | None
    total: int
    currency: str
    state: str
    source: str
    items: list[OrderLine]
    coupon_id: int | None
    flash_sale_id: int | None
    discount: int
    subtotal: int
    variants: dict[str, Any]


class OrderPartiallyRefunded(OrderChanged):
    refund_amount: int
    refunded: int
    revoked_products: list[int]


class SystemLine(Payload):
    """The fields of an event shown as a system chat line (commerce.announce.system)."""

    room_id: int
    message: str
    params: dict[str, str | int]
    text: str


class OrderAnnounced(SystemLine):
    order_id: int


class FlashScheduled(SystemLine):
    sale: dict[str, Any]


class FlashStock(Payload):
    room_id: int
    sale_id: int
    stock_left: int


class FlashSoldOut(SystemLine):
    sale_id: int
    stock_left: int


class FlashEnded(Payload):
    room_id: int
    sale_id: int


class DrawAnnounced(SystemLine):
    """``draw.opened`` and ``draw.drawn``."""

    draw: dict[str, Any]


class DrawEntered(Payload):
    room_id: int
    draw_id: int
    user_id: int


class DropStarted(SystemLine):
    drop: dict[str, Any]


class CouponClaimed(Payload):
    room_id: int
    drop_id: int
    coupon_id: int
    user_id: int


class CouponLeft(Payload):
    room_id: int
    drop_id: int
    left: int


class ShelfUpdated(Payload):
    room_id: int
    items: list[dict[str, Any]]


class ShelfPinned(Payload):
    room_id: int
    product: dict[str, Any]
    program_time: str | None


class ShelfUnpinned(Payload):
    room_id: int


class PaymentMismatch(Payload):
    provider: str
    day: str
    kind: str
    reference: str
    order_id: int | None
    ours: int | None
    theirs: int | None
    currency: str | None


EVENTS: dict[str, type[Payload]] = {
    **{f"order.{n}": OrderChanged for n in ("created", "paid", "fulfilled", "refunded", "cancelled", "expired")},
    "order.repriced": OrderChanged,
    "order.partially_refunded": OrderPartiallyRefunded,
    "order.announced": OrderAnnounced,
    "flash.scheduled": FlashScheduled,
    "flash.stock": FlashStock,
    "flash.sold_out": FlashSoldOut,
    "flash.ended": FlashEnded,
    "draw.opened": DrawAnnounced,
    "draw.entered": DrawEntered,
    "draw.drawn": DrawAnnounced,
    "coupon.drop_started": DropStarted,
    "coupon.claimed": CouponClaimed,
    "coupon.left": CouponLeft,
    "shelf.updated": ShelfUpdated,
    "shelf.pinned": ShelfPinned,
    "shelf.unpinned": ShelfUnpinned,
    "payment.mismatch": PaymentMismatch,
}
