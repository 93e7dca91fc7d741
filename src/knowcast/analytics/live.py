"""Live aggregates per room, updated incrementally by every event (O(1) each) and read by the dashboard.

A snapshot costs O(products + channels + timeline minutes), never O(events), so the dashboard's per-tick cost
stays flat however long the stream runs. Every figure follows docs/metrics.md.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from knowcast.analytics import records as r
from knowcast.analytics.records import Record, minute_of
from knowcast.analytics.windows import SlidingDistinct

TIMELINE_MINUTES = 240
FUNNEL_STEPS = ("entered", "saw", "clicked", "ordered", "paid")
FLAGS = ("saw", "clicked", "ordered", "paid")
MARKERS_KEPT = 200


@dataclass(slots=True)
class ViewState:
    visitor: str
    last_beat: datetime


@dataclass(slots=True)
class VisitorState:
    viewer: bool = False
    channel: str = ""
    flags: set[str] = field(default_factory=set)
    interacted: bool = False


@dataclass(slots=True)
class ProductStats:
    impressions: int = 0
    clicks: int = 0
    orders: int = 0
    paid: int = 0
    units: int = 0
    gmv: int = 0
    unpaid: int = 0
    buyers: set[str] = field(default_factory=set)


@dataclass(slots=True)
class ChannelStats:
    uv: int = 0
    buyers: int = 0
    gmv: int = 0


@dataclass(slots=True)
class Minute:
    viewers: int = 0
    chat: int = 0
    likes: int = 0
    interactions: int = 0
    orders: int = 0
    paid: int = 0
    gmv: int = 0


@dataclass(slots=True)
class FlashState:
    product_id: int | None
    stock: int
    starts: datetime
    ends: datetime
    sold_out_at: datetime | None = None


class RoomBoard:
    """Everything the live dashboard shows for one room."""

    def __init__(self, room_id: int, host_id: int = 0) -> None:
        self.room_id, self.host_id = room_id, host_id
        self.views: OrderedDict[str, ViewState] = OrderedDict()  # open views, oldest heartbeat first
        self.visitors: dict[str, VisitorState] = {}
        self.keys: dict[str, tuple[str, str, datetime]] = {}  # account key → (visitor, channel, last seen)
        self.peak = self.pv = self.uv = self.likes = self.chat = self.followers = self.coupons = 0
        self.unpaid = 0  # orders closed unpaid (expired or cancelled)
        self.faq: dict[tuple[int, str], int] = {}  # (FAQ entry, matched keyword) → automated answers
        self.peak_at: datetime | None = None
        self.watched = 0.0
        self.interactors = 0
        self.funnel = dict.fromkeys(FLAGS, 0)
        self.buyers: set[str] = set()
        self.gmv = self.refunds = self.orders_paid = 0
        self.currency: str | None = None
        self.products: dict[int, ProductStats] = {}
        self.channels: dict[str, ChannelStats] = {}
        self.minutes: OrderedDict[int, Minute] = OrderedDict()
        self.active = SlidingDistinct()
        self.interacting = SlidingDistinct()
        self.markers: list[dict[str, Any]] = []
        self.flash: dict[int, FlashState] = {}
        self.events = 0
        self.tail_id = 0  # the last stored event applied from the database (replay, or other processes)

    # ---- applying events ----------------------------------------------------------------------------------

    def apply(self, rec: Record) -> None:
        self.events += 1
        self.expire(rec.at)
        handler = _HANDLERS.get(rec.kind)
        if handler is not None:
            handler(self, rec)

    def expire(self, now: datetime) -> None:
        cutoff = now - timedelta(seconds=r.VIEW_TIMEOUT_SECONDS)
        while self.views:
            view_id, view = next(iter(self.views.items()))
            if view.last_beat >= cutoff:
                break
            del self.views[view_id]

    def _minute(self, at: datetime) -> Minute:
        key = minute_of(at)
        bucket = self.minutes.get(key)
        if bucket is None:
            bucket = self.minutes[key] = Minute(viewers=len(self.views))
            while len(self.minutes) > TIMELINE_MINUTES:
                self.minutes.popitem(last=False)
        return bucket

    def _visitor(self, visitor: str) -> VisitorState:
        state = self.visitors.get(visitor)
        if state is None:
            state = self.visitors[visitor] = VisitorState()
        return state

    def _flag(self, visitor: str, flag: str) -> None:
        state = self._visitor(visitor)
        if flag not in state.flags:
            state.flags.add(flag)
            if state.viewer:
                self.funnel[flag] += 1

    def _view_start(self, rec: Record) -> None:
        if rec.view_id is None or rec.view_id in self.views:
            return
        self.views[rec.view_id] = ViewState(rec.visitor, rec.at)
        self.pv += 1
        if len(self.views) > self.peak:
            self.peak, self.peak_at = len(self.views), rec.at
        state = self._visitor(rec.visitor)
        state.channel = rec.channel or state.channel
        if not state.viewer:
            state.viewer = True
            self.uv += 1
            self.channels.setdefault(rec.channel, ChannelStats()).uv += 1
            for flag in state.flags:
                self.funnel[flag] += 1
            self.interactors += state.interacted
        if rec.user_key:
            self.keys[rec.user_key] = (rec.visitor, rec.channel, rec.at)
        self.active.add(minute_of(rec.at), rec.visitor)
        bucket = self._minute(rec.at)
        bucket.viewers = max(bucket.viewers, len(self.views))

    def _beat(self, rec: Record) -> None:
        if rec.view_id is None:
            return
        view = self.views.get(rec.view_id)
        if view is None:  # its start was before this process knew the room
            self._view_start(rec)
            view = self.views.get(rec.view_id)
            if view is None:
                return
        self.watched += rec.watched
        view.last_beat = rec.at
        self.views.move_to_end(rec.view_id)
        self.active.add(minute_of(rec.at), rec.visitor)
        bucket = self._minute(rec.at)
        bucket.viewers = max(bucket.viewers, len(self.views))
        if rec.user_key and rec.user_key in self.keys:
            visitor, channel, _ = self.keys[rec.user_key]
            self.keys[rec.user_key] = (visitor, channel, rec.at)

    def _view_end(self, rec: Record) -> None:
        self.watched += rec.watched
        if rec.view_id is not None:
            self.views.pop(rec.view_id, None)

    def _impression(self, rec: Record) -> None:
        self._flag(rec.visitor, "saw")
        self._product(rec.product_id).impressions += 1

    def _click(self, rec: Record) -> None:
        self._flag(rec.visitor, "clicked")
        self._product(rec.product_id).clicks += 1

    def _product(self, product_id: int | None) -> ProductStats:
        key = product_id or 0
        stats = self.products.get(key)
        if stats is None:
            stats = self.products[key] = ProductStats()
        return stats

    def _interaction(self, rec: Record) -> None:
        state = self._visitor(rec.visitor)
        if not state.interacted:
            state.interacted = True
            self.interactors += state.viewer
        self.interacting.add(minute_of(rec.at), rec.visitor)
        bucket = self._minute(rec.at)
        bucket.interactions += 1
        if rec.kind == r.LIKE:
            self.likes += max(1, rec.quantity)
            bucket.likes += max(1, rec.quantity)
        elif rec.kind == r.CHAT:
            self.chat += 1
            bucket.chat += 1

    def _follow(self, _rec: Record) -> None:
        self.followers += 1

    def _coupon(self, _rec: Record) -> None:
        self.coupons += 1

    def _faq(self, rec: Record) -> None:
        data = rec.data or {}
        key = (int(data.get("faq_id") or 0), str(data.get("keyword") or ""))
        self.faq[key] = self.faq.get(key, 0) + 1

    def _order_unpaid(self, rec: Record) -> None:
        self.unpaid += 1
        for product_id, _units, _amount in items_of(rec):
            self._product(product_id).unpaid += 1

    def _order_created(self, rec: Record) -> None:
        self._flag(rec.visitor, "ordered")
        for product_id, _units, _amount in items_of(rec):
            self._product(product_id).orders += 1
        self._minute(rec.at).orders += 1

    def _order_paid(self, rec: Record) -> None:
        self._flag(rec.visitor, "paid")
        self.gmv += rec.amount
        self.orders_paid += 1
        self.currency = self.currency or rec.currency
        buyer = rec.user_key or rec.visitor
        channel = self.channels.setdefault(self._visitor(rec.visitor).channel or rec.channel, ChannelStats())
        if buyer not in self.buyers:
            self.buyers.add(buyer)
            channel.buyers += 1
        channel.gmv += rec.amount
        for product_id, units, amount in items_of(rec):
            stats = self._product(product_id)
            stats.paid += 1
            stats.units += units
            stats.gmv += amount
            stats.buyers.add(buyer)
        bucket = self._minute(rec.at)
        bucket.gmv += rec.amount
        bucket.paid += 1

    def _refund(self, rec: Record) -> None:
        self.refunds += rec.amount

    def _marker(self, rec: Record) -> None:
        data = rec.data or {}
        self.markers.append({"at": rec.at.isoformat(), **data})
        del self.markers[:-MARKERS_KEPT]
        sale_id = data.get("sale_id")
        if data.get("type") == "flash" and isinstance(sale_id, int) and data.get("stock"):
            starts = _when(data.get("starts_at")) or rec.at
            ends = _when(data.get("ends_at")) or rec.at
            self.flash[sale_id] = FlashState(data.get("product_id"), int(data["stock"]), starts, ends)
        elif data.get("type") == "sold_out" and isinstance(sale_id, int) and sale_id in self.flash:
            self.flash[sale_id].sold_out_at = self.flash[sale_id].sold_out_at or rec.at

    # ---- reading ------------------------------------------------------------------------------------------

    def user_seen(self, user_key: str) -> tuple[str, str, datetime] | None:
        """(visitor, channel, last heartbeat) of a signed-in account in this room, if it watched here."""
        return self.keys.get(user_key)

    def snapshot(self, now: datetime) -> dict[str, Any]:
        from knowcast.analytics.snapshot import build

        self.expire(now)
        return build(self, now)


def items_of(rec: Record) -> list[tuple[int, int, int]]:
    """(product id, units, amount) of each line of an order event; one unknown line when none were sent."""
    lines = (rec.data or {}).get("items")
    if not lines:
        return [(rec.product_id or 0, max(1, rec.quantity), rec.amount)]
    return [(int(x.get("product_id") or 0), int(x.get("quantity") or 1), int(x.get("amount") or 0)) for x in lines]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


_HANDLERS = {
    r.VIEW_START: RoomBoard._view_start,
    r.HEARTBEAT: RoomBoard._beat,
    r.VIEW_END: RoomBoard._view_end,
    r.IMPRESSION: RoomBoard._impression,
    r.CLICK: RoomBoard._click,
    r.SHARE: RoomBoard._interaction,
    r.CHAT: RoomBoard._interaction,
    r.LIKE: RoomBoard._interaction,
    r.QUESTION: RoomBoard._interaction,
    r.VOTE: RoomBoard._interaction,
    r.DRAW_ENTRY: RoomBoard._interaction,
    r.FOLLOW: RoomBoard._follow,
    r.COUPON_CLAIMED: RoomBoard._coupon,
    r.ORDER_CREATED: RoomBoard._order_created,
    r.ORDER_PAID: RoomBoard._order_paid,
    r.ORDER_REFUNDED: RoomBoard._refund,
    r.ORDER_EXPIRED: RoomBoard._order_unpaid,
    r.ORDER_CANCELLED: RoomBoard._order_unpaid,
    r.FAQ_REPLY: RoomBoard._faq,
    r.MARKER: RoomBoard._marker,
}
