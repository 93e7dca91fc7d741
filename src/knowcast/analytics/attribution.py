"""Which room an order belongs to (docs/metrics.md "Attributed order"): one paid while its buyer was watching the
room, or within the attribution window (default 24 h) after their last view of it. An order placed from a room
page goes to that room if its buyer watched it in the window; an order placed elsewhere goes to the host's
room the buyer watched last within the window. Orders with no such view are not attributed to any room.

Last touch (the channel of the buyer's latest view in that room) is recorded on the order; first touch is
the visitor's first channel with the host (``analytics_touches``), and reports can use either.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from knowcast.analytics import models as m
from knowcast.analytics import records as r
from knowcast.analytics.identity import user_key
from knowcast.analytics.records import Record
from knowcast.bus import Event

if TYPE_CHECKING:
    from knowcast.analytics.runtime import AnalyticsRuntime
    from knowcast.analytics.subscriber import Subscriber

KINDS = {
    "order.created": r.ORDER_CREATED,
    "order.paid": r.ORDER_PAID,
    "order.refunded": r.ORDER_REFUNDED,
    "order.expired": r.ORDER_EXPIRED,
    "order.cancelled": r.ORDER_CANCELLED,
}
FOLLOWS = {r.ORDER_REFUNDED: r.ORDER_PAID, r.ORDER_EXPIRED: r.ORDER_CREATED, r.ORDER_CANCELLED: r.ORDER_CREATED}
KEPT = ("source", "coupon_id", "flash_sale_id", "discount", "subtotal")
VARIANTS_KEPT = 20
Found = tuple[int, str, str]  # room id, visitor, channel


async def attribute_order(runtime: AnalyticsRuntime, _sub: Subscriber, event: Event) -> None:
    data = event.data
    order_id, user_id = data.get("order_id"), data.get("user_id")
    if not isinstance(order_id, int) or not isinstance(user_id, int):
        return
    kind = KINDS[event.name]
    key = user_key(runtime.settings.secret_key, user_id)
    host_id = int(data.get("host_id") or 0)
    earlier = FOLLOWS.get(kind)
    if earlier is not None:  # a refund or an unpaid close goes where the order itself went
        found = runtime.orders.get(order_id) or await _recorded(runtime, order_id, earlier)
    else:
        window = timedelta(hours=runtime.settings.analytics_attribution_hours)
        room_id = data.get("room_id") if isinstance(data.get("room_id"), int) else None
        found = _watching(runtime, key, room_id, host_id, event.at, window)
        found = found or await _viewed(runtime, key, room_id, host_id, event.at, window)
    if found is None:
        return
    room_id, visitor, channel = found
    if kind in (r.ORDER_CREATED, r.ORDER_PAID):
        runtime.note_order(order_id, room_id, visitor, channel)
    total = int(data.get("total") or 0)
    extra = {k: data[k] for k in KEPT if _plain(data.get(k))}
    items = allocate(data.get("items"), total)
    rec = Record(
        kind,
        room_id,
        event.at,
        visitor=visitor,
        host_id=host_id,
        channel=channel,
        order_id=order_id,
        user_id=user_id,
        user_key=key,
        amount=total,
        currency=data.get("currency") if isinstance(data.get("currency"), str) else None,
        variants=variants_of(data.get("variants")),
        data={**extra, "items": items} if items else extra or None,
    )
    runtime.offer(rec)


def variants_of(value: Any) -> dict[str, str] | None:
    """The order's {experiment key: variant key}, as commerce stamped it (bounded, strings only)."""
    if not isinstance(value, dict):
        return None
    found = {str(k)[:40]: str(v)[:40] for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
    return dict(list(found.items())[:VARIANTS_KEPT]) or None


def _watching(
    runtime: AnalyticsRuntime, key: str, room_id: int | None, host_id: int, at: datetime, window: timedelta
) -> Found | None:
    """From the live boards of this process: the buyer's latest view within the window."""
    best: tuple[datetime, Found] | None = None
    for board in runtime.boards.values():
        if (room_id is not None and board.room_id != room_id) or (room_id is None and board.host_id != host_id):
            continue
        seen = board.user_seen(key)
        if seen is not None and at - seen[2] <= window and (best is None or seen[2] > best[0]):
            best = (seen[2], (board.room_id, seen[0], seen[1]))
    return best[1] if best else None


async def _viewed(
    runtime: AnalyticsRuntime, key: str, room_id: int | None, host_id: int, at: datetime, window: timedelta
) -> Found | None:
    """From the stored views (another process or an earlier run saw them)."""
    views = m.AnalyticsView
    query = select(views.room_id, views.visitor, views.channel).where(
        views.user_key == key, views.last_beat_at >= at - window
    )
    if room_id is not None:
        query = query.where(views.room_id == room_id)
    else:
        query = query.join(m.AnalyticsRoom, m.AnalyticsRoom.room_id == views.room_id).where(
            m.AnalyticsRoom.host_id == host_id
        )
    async with runtime.ctx.db.session() as session:
        row = (await session.execute(query.order_by(views.last_beat_at.desc()).limit(1))).first()
    return (int(row[0]), str(row[1]), str(row[2] or "")) if row else None


async def _recorded(runtime: AnalyticsRuntime, order_id: int, kind: str) -> Found | None:
    """Where an earlier event of the order (its payment, its creation) was attributed, from the stored log."""
    events = m.AnalyticsEvent
    query = select(events.room_id, events.visitor, events.channel).where(
        events.order_id == order_id, events.kind == kind
    )
    async with runtime.ctx.db.session() as session:
        row = (await session.execute(query.limit(1))).first()
    return (int(row[0]), str(row[1]), str(row[2] or "")) if row else None


def allocate(lines: Any, total: int) -> list[dict[str, int]]:
    """Split an order's paid total over its lines in proportion to their list amounts (the last line takes
    the rounding), so per-product GMV adds up to the order's GMV."""
    if not isinstance(lines, list) or not lines:
        return []
    parsed = []
    for line in lines:
        if isinstance(line, dict) and _whole(line.get("product_id")):
            quantity = _count(line.get("quantity"), least=1, default=1)
            parsed.append((line["product_id"], quantity, _count(line.get("unit_price")) * quantity))
    subtotal = sum(amount for *_, amount in parsed)
    out, left = [], total
    for i, (product_id, quantity, amount) in enumerate(parsed):
        share = left if i == len(parsed) - 1 else (total * amount // subtotal if subtotal else total // len(parsed))
        left -= share
        out.append({"product_id": product_id, "quantity": quantity, "amount": share})
    return out


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any, least: int = 0, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= least else default


def _plain(value: Any) -> bool:
    """An int (not a bool) or a short string: what an event field may carry into the log."""
    return _whole(value) or (isinstance(value, str) and len(value) <= 40)
