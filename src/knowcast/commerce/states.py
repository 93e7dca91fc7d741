"""The order's life and the payment's. Illegal moves are refused with ``order.illegal_transition``."""

from __future__ import annotations

import enum

from knowcast.commerce.errors import CommerceCode
from knowcast.errors import Conflict


class OrderState(enum.StrEnum):
    PENDING = "pending"  # created, stock reserved until reserved_until
    PAID = "paid"  # money received; entitlements granted
    FULFILLED = "fulfilled"  # delivered (digital goods: at once; plain items: when the host ships)
    REFUNDED = "refunded"  # money returned; entitlements revoked
    CANCELLED = "cancelled"  # the buyer gave up before paying; stock returned
    EXPIRED = "expired"  # not paid in time; stock returned by the sweeper


TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.PENDING: frozenset({OrderState.PAID, OrderState.CANCELLED, OrderState.EXPIRED}),
    OrderState.PAID: frozenset({OrderState.FULFILLED, OrderState.REFUNDED}),
    OrderState.FULFILLED: frozenset({OrderState.REFUNDED}),
    OrderState.REFUNDED: frozenset(),
    OrderState.CANCELLED: frozenset(),
    OrderState.EXPIRED: frozenset(),
}
HOLDS_STOCK = frozenset({OrderState.PENDING, OrderState.PAID, OrderState.FULFILLED})
OWNED = frozenset({OrderState.PAID, OrderState.FULFILLED})


def can_transition(current: OrderState, target: OrderState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: OrderState, target: OrderState) -> None:
    if not can_transition(current, target):
        raise Conflict(
            f"a {current.value} order cannot become {target.value}",
            code=CommerceCode.ORDER_ILLEGAL_TRANSITION,
            fields={"state": current.value, "to": target.value},
        )


class PaymentState(enum.StrEnum):
    """Ranked: an event only ever moves a payment up this list, so late or repeated events change nothing."""

    CREATED = "created"
    FAILED = "failed"  # the buyer may still retry on the same checkout
    SUCCEEDED = "succeeded"
    REFUNDED = "refunded"


RANK = {state: rank for rank, state in enumerate(PaymentState)}


class EntitlementKind(enum.StrEnum):
    COURSE = "course"
    DOWNLOAD = "download"
    CONSULTATION = "consultation"
    MEMBERSHIP = "membership"
    TICKET = "ticket"
    REPLAY = "replay"
    ITEM = "item"
