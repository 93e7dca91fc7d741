"""The one shape every analytics event takes inside Knowcast, whether a browser sent it or a bus event made it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# from the browser, through POST /api/v1/analytics/events
VIEW_START = "view_start"
HEARTBEAT = "heartbeat"
VIEW_END = "view_end"
IMPRESSION = "impression"
CLICK = "click"
SHARE = "share"
BROWSER_KINDS = frozenset({VIEW_START, HEARTBEAT, VIEW_END, IMPRESSION, CLICK, SHARE})

# from bus events (server side only)
CHAT = "chat"
LIKE = "like"
QUESTION = "question"
VOTE = "vote"
DRAW_ENTRY = "draw_entry"
FOLLOW = "follow"
COUPON_CLAIMED = "coupon_claimed"
ORDER_CREATED = "order_created"
ORDER_PAID = "order_paid"
ORDER_REFUNDED = "order_refunded"
ORDER_EXPIRED = "order_expired"  # closed unpaid: the reservation ran out
ORDER_CANCELLED = "order_cancelled"  # closed unpaid: the buyer or the shop cancelled it
FAQ_REPLY = "faq_reply"  # an automated FAQ answer in chat (growth); not the viewer's interaction
MARKER = "marker"
EXPOSURE = "exposure"

INTERACTIONS = frozenset({CHAT, LIKE, QUESTION, VOTE, DRAW_ENTRY, SHARE})
ORDER_KINDS = frozenset({ORDER_CREATED, ORDER_PAID, ORDER_REFUNDED})
UNPAID_KINDS = frozenset({ORDER_EXPIRED, ORDER_CANCELLED})
VIEW_KINDS = frozenset({VIEW_START, HEARTBEAT, VIEW_END})

VIEW_TIMEOUT_SECONDS = 60  # docs/metrics.md: a view ends after 60 s without a heartbeat
MIN_VIEW_SECONDS = 1.0  # docs/metrics.md: a viewer (UV) watched the room for at least 1 s
HEARTBEAT_SECONDS = 15
MAX_BEAT_SECONDS = 20.0  # the most one heartbeat may add to watch time (15 s plus slack)


@dataclass(slots=True)
class Record:
    kind: str
    room_id: int
    at: datetime
    visitor: str = ""
    host_id: int = 0
    view_id: str | None = None
    channel: str = ""
    device: str = ""
    product_id: int | None = None
    order_id: int | None = None
    user_id: int | None = None
    user_key: str | None = None
    amount: int = 0
    quantity: int = 0
    currency: str | None = None
    variants: dict[str, str] | None = None
    data: dict[str, Any] | None = None
    watched: float = 0.0  # seconds this heartbeat or end adds to the view

    def row(self) -> dict[str, Any]:
        """The analytics_events row; the watched seconds and the account key ride in ``data``."""
        data = dict(self.data or {})
        if self.watched:
            data["w"] = round(self.watched, 3)
        if self.user_key:
            data["uk"] = self.user_key
        return {
            "room_id": self.room_id,
            "kind": self.kind,
            "at": self.at,
            "visitor": self.visitor,
            "view_id": self.view_id,
            "channel": self.channel,
            "device": self.device,
            "product_id": self.product_id,
            "order_id": self.order_id,
            "user_id": self.user_id,
            "amount": self.amount,
            "quantity": self.quantity,
            "currency": self.currency,
            "variants": self.variants,
            "data": data or None,
        }

    @classmethod
    def from_row(cls, row: Any, host_id: int = 0) -> Record:
        """Back from an analytics_events row (replaying a room into the live board)."""
        data = dict(row.data or {})
        watched, user_key = float(data.pop("w", 0.0)), data.pop("uk", None)
        return cls(
            kind=row.kind,
            room_id=row.room_id,
            at=row.at,
            visitor=row.visitor,
            host_id=host_id,
            view_id=row.view_id,
            channel=row.channel,
            device=row.device,
            product_id=row.product_id,
            order_id=row.order_id,
            user_id=row.user_id,
            user_key=user_key,
            amount=row.amount,
            quantity=row.quantity,
            currency=row.currency,
            variants=row.variants,
            data=data or None,
            watched=watched,
        )


def minute_of(at: datetime) -> int:
    return int(at.timestamp() // 60)
