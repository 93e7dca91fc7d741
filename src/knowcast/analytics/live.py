"""Live aggregates per room, updated incrementally by every event (O(1) each) and read by the dashboard.

The board is a function of the SET of events it was given, not of their order: events from several processes,
a replay from the store and the browser's own retries arrive in any order, and the dashboard must say the same.
So every piece of state is a sum, a set, a min or a max: a view is the span from its earliest to its latest
event, a visitor's channel is that of their earliest view, and what depends on how views overlap in time (open
views now, the peak, viewers per minute) is swept from the spans when a snapshot is read. A snapshot costs
O(views + visitors + products + timeline minutes), never O(events). Every figure follows docs/metrics.md; a
visitor is in UV once their views have watched at least 1 s (MIN_VIEW_SECONDS).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from knowcast.analytics import records as r
from knowcast.analytics.overlap import Overlap, sweep
from knowcast.analytics.records import Record, minute_of
from knowcast.analytics.windows import SlidingDistinct

TIMELINE_MINUTES = 240
FUNNEL_STEPS = ("entered", "saw", "clicked", "ordered", "paid")
FLAGS = ("saw", "clicked", "ordered", "paid")
MARKERS_KEPT = 200


TIMEOUT = timedelta(seconds=r.VIEW_TIMEOUT_SECONDS)


@dataclass(slots=True)
class ViewSpan:
    """A view as its events bound it: open from its earliest event until it ended, or 60 s after its latest."""

    first: datetime
    last: datetime
    ended: bool = False

    def see(self, at: datetime) -> None:
        self.first, self.last = min(self.first, at), max(self.last, at)

    def until(self) -> datetime:
        return self.last if self.ended else self.last + TIMEOUT


@dataclass(slots=True)
class VisitorState:
    viewer: bool = False  # has watched at least MIN_VIEW_SECONDS: counts in UV
    watched_ms: int = 0  # integer milliseconds: sums come out the same in any order
    channel: str = ""  # the channel of their earliest view
    channel_at: datetime | None = None
    flags: set[str] = field(default_factory=set)
    interacted: bool = False
    gmv: int = 0
    buyer_keys: set[str] = field(default_factory=set)
    order_channels: set[str] = field(default_factory=set)  # where their paid orders say they came from

    def channel_name(self) -> str:
        """Their earliest view's channel; a buyer never seen arriving, the channel their paid orders name."""
        return self.channel or (min(self.order_channels) if self.order_channels else "")


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
    """A channel's viewers, GMV and buyers (a multiset: a buyer key counts while a visitor of the channel holds it)."""

    uv: int = 0
    gmv: int = 0
    buyers: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Minute:
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
        self.views: dict[str, ViewSpan] = {}
        self._spans: tuple[int, Any, Any] | None = None  # (views version, first, until) as arrays, for sweeps
        self._version = 0
        self.visitors: dict[str, VisitorState] = {}
        self.keys: dict[str, tuple[str, str, datetime]] = {}  # account key → (visitor, channel, last seen)
        self.uv = self.likes = self.chat = self.followers = self.coupons = 0
        self.unpaid = 0  # orders closed unpaid (expired or cancelled)
        self.faq: dict[tuple[int, str], int] = {}  # (FAQ entry, matched keyword) → automated answers
        self.watched_ms = 0
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
        self.sold_out: dict[int, datetime] = {}  # sale → first sold-out marker, even before its start's
        self.events = 0
        self.tail_id = 0  # the last stored event applied from the database (replay, or other processes)

    # ---- applying events ----------------------------------------------------------------------------------

    def apply(self, rec: Record) -> None:
        self.events += 1
        handler = _HANDLERS.get(rec.kind)
        if handler is not None:
            handler(self, rec)

    @property
    def pv(self) -> int:
        return len(self.views)

    @property
    def watched(self) -> float:
        return self.watched_ms / 1000

    def _minute(self, at: datetime) -> Minute:
        key = minute_of(at)
        bucket = self.minutes.get(key)
        if bucket is None:
            bucket = self.minutes[key] = Minute()
            if len(self.minutes) > TIMELINE_MINUTES:  # keep the latest minutes, whatever order they came in
                del self.minutes[min(self.minutes)]
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

    def _view(self, rec: Record) -> ViewSpan | None:
        """The view's span, stretched to this event (any event of a view may be the first to arrive)."""
        if rec.view_id is None:
            return None
        span = self.views.get(rec.view_id)
        if span is None:
            span = self.views[rec.view_id] = ViewSpan(rec.at, rec.at)
        else:
            span.see(rec.at)
        self._version += 1
        self.active.add(minute_of(rec.at), rec.visitor)
        self._minute(rec.at)
        if rec.user_key:
            seen = self.keys.get(rec.user_key)
            if seen is None or rec.at > seen[2]:  # the latest sighting wins, whenever it arrives
                self.keys[rec.user_key] = (rec.visitor, rec.channel if seen is None else seen[1], rec.at)
        return span

    def _count(self, state: VisitorState, sign: int) -> None:
        """Add (1) or take back (−1) what a visitor gives their channel, around any change to the visitor."""
        stats = self.channels.setdefault(state.channel_name(), ChannelStats())
        stats.uv += sign * state.viewer
        stats.gmv += sign * state.gmv
        for key in state.buyer_keys:
            stats.buyers[key] += sign
            if stats.buyers[key] <= 0:  # no visitor of the channel holds it any more
                del stats.buyers[key]

    def _view_start(self, rec: Record) -> None:
        if self._view(rec) is None:
            return
        state = self._visitor(rec.visitor)
        if state.channel_at is None or (rec.at, rec.channel) < (state.channel_at, state.channel):
            self._count(state, -1)
            state.channel, state.channel_at = rec.channel, rec.at
            self._count(state, 1)
        if rec.user_key:  # the channel a signed-in viewer came by is their earliest view's
            visitor, _, last = self.keys[rec.user_key]
            self.keys[rec.user_key] = (visitor, state.channel, last)

    def _beat(self, rec: Record) -> None:
        if self._view(rec) is not None:
            self._watch(rec)

    def _view_end(self, rec: Record) -> None:
        span = self._view(rec)
        if span is not None:
            span.ended = True
            self._watch(rec)

    def _watch(self, rec: Record) -> None:
        ms = round(rec.watched * 1000)
        self.watched_ms += ms
        state = self._visitor(rec.visitor)
        state.watched_ms += ms
        if not state.viewer and state.watched_ms >= r.MIN_VIEW_SECONDS * 1000:
            state.viewer = True
            self.uv += 1
            self.channels.setdefault(state.channel_name(), ChannelStats()).uv += 1
            for flag in state.flags:
                self.funnel[flag] += 1
            self.interactors += state.interacted

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
        self.buyers.add(buyer)
        state = self._visitor(rec.visitor)
        self._count(state, -1)
        state.gmv += rec.amount
        state.buyer_keys.add(buyer)
        state.order_channels.add(rec.channel)
        self._count(state, 1)
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
        self.markers.sort(key=lambda marker: (marker["at"], repr(sorted(marker.items()))))
        del self.markers[:-MARKERS_KEPT]
        sale_id = data.get("sale_id")
        if data.get("type") == "flash" and isinstance(sale_id, int) and data.get("stock"):
            starts = _when(data.get("starts_at")) or rec.at
            ends = _when(data.get("ends_at")) or rec.at
            sold_out = self.sold_out.get(sale_id)
            self.flash[sale_id] = FlashState(data.get("product_id"), int(data["stock"]), starts, ends, sold_out)
        elif data.get("type") == "sold_out" and isinstance(sale_id, int):
            self.sold_out[sale_id] = min(self.sold_out.get(sale_id, rec.at), rec.at)
            if sale_id in self.flash:
                self.flash[sale_id].sold_out_at = self.sold_out[sale_id]

    # ---- reading ------------------------------------------------------------------------------------------

    def user_seen(self, user_key: str) -> tuple[str, str, datetime] | None:
        """(visitor, channel, last heartbeat) of a signed-in account in this room, if it watched here."""
        return self.keys.get(user_key)

    def overlap(self, now: datetime) -> Overlap:
        """Open views now, the peak and the most open views in each minute, swept from the views' spans as they
        stand at ``now`` (a view still open counts until now)."""
        if self._spans is None or self._spans[0] != self._version:
            first = np.fromiter((v.first.timestamp() for v in self.views.values()), float, len(self.views))
            until = np.fromiter((v.until().timestamp() for v in self.views.values()), float, len(self.views))
            self._spans = (self._version, first, until)
        _, first, until = self._spans
        stamp = now.timestamp()
        begun = first <= stamp
        return sweep(first[begun], np.minimum(until[begun], stamp), open_now=int(np.sum(until[begun] > stamp)))

    def snapshot(self, now: datetime) -> dict[str, Any]:
        from knowcast.analytics.snapshot import build

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
