"""Webhook bodies, built from bus events by explicit, versioned mappers (docs/integrations.md, "Payload versions").

A receiver's contract is the mapper, not the event: a domain that adds a field to its event changes nothing a
receiver sees until a mapper takes it. Version 1 is the shape the webhooks have sent since they shipped (the
fields listed here, in this order). A change a receiver would notice is a new version beside this one, never an
edit of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from knowcast.bus import Event

Mapper = Callable[[Event], dict[str, Any]]

ROOM_V1 = ("room_id", "host_id", "state")
ORDER_V1 = (
    "order_id",
    "user_id",
    "host_id",
    "room_id",
    "total",
    "currency",
    "state",
    "source",
    "items",
    "coupon_id",
    "flash_sale_id",
    "discount",
    "subtotal",
    "variants",
)
MISMATCH_V1 = ("provider", "day", "kind", "reference", "order_id", "ours", "theirs", "currency")
PING_V1 = ("endpoint_id",)


def fields(names: tuple[str, ...]) -> Mapper:
    """A mapper that copies these fields, in this order; one the event lacks is left out (as before mappers)."""

    def mapped(event: Event) -> dict[str, Any]:
        return {name: event.data[name] for name in names if name in event.data}

    return mapped


V1: Mapping[str, Mapper] = {
    "room.live": fields(ROOM_V1),
    "room.ended": fields(ROOM_V1),
    "order.paid": fields(ORDER_V1),
    "order.refunded": fields(ORDER_V1),
    "payment.mismatch": fields(MISMATCH_V1),
    "webhook.ping": fields(PING_V1),
}
VERSIONS: Mapping[int, Mapping[str, Mapper]] = {1: V1}
CURRENT = 1


def data_of(event: Event, version: int = CURRENT) -> dict[str, Any]:
    """The ``data`` of a webhook body for this event; KeyError for an event no mapper of that version offers."""
    return VERSIONS[version][event.name](event)
