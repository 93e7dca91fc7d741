"""Webhook bodies come from explicit version-1 mappers and are byte for byte what they were when the body was the
event's data minus the real-time routing keys (the code at commit 9da6a8c, inlined here as ``legacy``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from knowcast.bus import Event
from knowcast.integrations import payloads
from knowcast.integrations.events import PING, WebhookEvent, event_id, payload

ORDER = {
    "order_id": 7,
    "user_id": 3,
    "host_id": 2,
    "room_id": 1,
    "total": 6500,
    "currency": "CNY",
    "state": "fulfilled",
    "source": "buy",
    "items": [{"product_id": 5, "quantity": 1, "unit_price": 7000}],
    "coupon_id": 4,
    "flash_sale_id": None,
    "discount": 500,
    "subtotal": 7000,
    "variants": {"5": "高级版"},
}
MISMATCH = {
    "provider": "wechat",
    "day": "2026-12-01",
    "kind": "amount",
    "reference": "ord_7",
    "order_id": 7,
    "ours": 6500,
    "theirs": 6400,
    "currency": "CNY",
}
ROOM = {"room_id": 1, "host_id": 2, "state": "live"}


def legacy(event: Event, ident: str, data: dict[str, Any]) -> str:
    kept = {k: v for k, v in data.items() if k not in {"broadcast", "system"}}
    body = {"id": ident, "type": event.name, "created_at": event.at.isoformat(), "data": kept}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


CASES = [
    (Event("room.live", ROOM, to_room=True), {**ROOM, "broadcast": True}),
    (Event("room.ended", {**ROOM, "state": "ended"}, to_room=True), {**ROOM, "state": "ended", "broadcast": True}),
    (Event("order.paid", ORDER), ORDER),
    (Event("order.refunded", {**ORDER, "state": "refunded"}), {**ORDER, "state": "refunded"}),
    (Event("payment.mismatch", MISMATCH), MISMATCH),
    (Event(PING, {"endpoint_id": 4}), {"endpoint_id": 4}),
]


@pytest.mark.parametrize(("event", "before"), CASES, ids=[c[0].name for c in CASES])
def test_version_1_sends_the_same_bytes(event: Event, before: dict[str, Any]) -> None:
    ident = event_id(event)
    assert payload(event, ident) == legacy(event, ident, before)


def test_a_field_added_to_an_event_reaches_no_receiver_until_a_mapper_takes_it() -> None:
    event = Event("order.paid", {**ORDER, "buyer_phone": "13800000000"})
    assert payloads.data_of(event) == ORDER


def test_every_subscribable_event_and_the_ping_have_a_version_1_mapper() -> None:
    assert set(payloads.V1) == {e.value for e in WebhookEvent} | {PING}
