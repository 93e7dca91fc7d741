"""The data of every ``order.*`` event, one shape whichever path made the order (a buy, a flash-sale win through
the batch writer, a draw prize). Analytics and webhooks consume it; the contract is in docs/api.md ("Order
events"). These events are never broadcast to rooms: they name the buyer, their price and their variants.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from knowcast.bus import Event
from knowcast.commerce.models import Order, OrderItem


def line(product_id: int, quantity: int, unit_price: int) -> dict[str, int]:
    return {"product_id": product_id, "quantity": quantity, "unit_price": unit_price}


def lines_of(items: Iterable[OrderItem]) -> list[dict[str, int]]:
    return [line(item.product_id, item.quantity, item.unit_price) for item in items]


def order_event(name: str, order: Order, lines: list[dict[str, int]], **extra: Any) -> Event:
    data: dict[str, Any] = {
        "order_id": order.id,
        "user_id": order.user_id,
        "host_id": order.host_id,
        "room_id": order.room_id,
        "total": order.total,
        "currency": order.currency,
        "state": order.state.value,
        "source": order.source,
        "items": lines,
        "coupon_id": order.coupon_id,
        "flash_sale_id": order.flash_sale_id,
        "discount": order.discount,
        "subtotal": order.subtotal,
        "variants": dict(order.variants or {}),
        **extra,
    }
    return Event(name, data)
