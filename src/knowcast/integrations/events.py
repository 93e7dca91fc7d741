"""Which bus events an endpoint can subscribe to, and the payload each delivery carries.

Other domains publish these on ``knowcast.bus`` after their commit (rooms: ``room.live`` and ``room.ended``;
commerce: ``order.paid``, ``order.refunded`` and, from reconciliation, ``payment.mismatch``). To offer another
event, add it here, give it a mapper in payloads.py and document its fields in docs/integrations.md.
"""

from __future__ import annotations

import enum
import hashlib
import json

from knowcast.bus import Event
from knowcast.integrations import payloads

PING = "webhook.ping"  # sent on demand to test an endpoint; not subscribable


class WebhookEvent(enum.StrEnum):
    ROOM_LIVE = "room.live"
    ROOM_ENDED = "room.ended"
    ORDER_PAID = "order.paid"
    ORDER_REFUNDED = "order.refunded"
    PAYMENT_MISMATCH = "payment.mismatch"


def event_id(event: Event) -> str:
    """A stable id for one bus event: the same event seen twice (two subscribers, two processes) maps to one."""
    raw = json.dumps([event.name, event.at.isoformat(), event.data], sort_keys=True, default=str)
    return "evt_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def payload(event: Event, ident: str) -> str:
    """The JSON body sent to receivers, fixed once so that every attempt sends the same bytes."""
    body = {"id": ident, "type": event.name, "created_at": event.at.isoformat(), "data": payloads.data_of(event)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
