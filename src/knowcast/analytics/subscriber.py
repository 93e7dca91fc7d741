"""Server-side analytics events, learned from the bus: rooms, shelves, chat, likes, questions, votes, draws,
follows, coupons, orders, FAQ auto-replies, reminders, and the markers of the review timeline (pins, flash
sales, coupon drops, draws, polls, run-of-show steps).

Handlers only build a record and hand it to the runtime (no database, no waiting), so the action that
published the event is never slowed. Orders are attributed in a small job beside it (docs/analytics.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from knowcast.analytics import records as r
from knowcast.analytics.attribution import attribute_order
from knowcast.analytics.identity import stand_in, user_key
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.bus import Event, EventBus

Handler = Callable[[Event], Awaitable[None]]
INTERACTION_EVENTS = {
    "chat.message": r.CHAT,
    "likes.tapped": r.LIKE,
    "qa.asked": r.QUESTION,
    "poll.voted": r.VOTE,  # interaction: {"room_id", "poll_id", "user_id"}
    "draw.entered": r.DRAW_ENTRY,  # commerce: {"room_id", "draw_id", "user_id"}
    "host.followed": r.FOLLOW,  # growth: {"host_id", "user_id", "room_id"} (room_id None: not during a stream)
}
ORDER_EVENTS = ("order.created", "order.paid", "order.refunded", "order.expired", "order.cancelled")
MARKER_EVENTS = (
    "shelf.pinned",
    "flash.scheduled",
    "flash.sold_out",
    "coupon.drop_started",
    "draw.opened",
    "draw.drawn",
    "poll.opened",
    "show.step_done",  # growth's run-of-show (直播脚本)
)


class Subscriber:
    def __init__(self, runtime: AnalyticsRuntime) -> None:
        self.runtime = runtime
        self.secret = runtime.settings.secret_key

    def visitor_of(self, room_id: int, user_id: int | None, fallback: str = "") -> tuple[str, str | None]:
        """(visitor id, user key) of an account in a room: the visitor of its views, else a stand-in."""
        if user_id is None:
            return fallback, None
        key = user_key(self.secret, user_id)
        board = self.runtime.boards.get(room_id)
        seen = board.user_seen(key) if board else None
        return (seen[0] if seen else stand_in(key)), key

    def learn(self, room_id: int) -> None:
        """A room this process has not heard of since it started: load it in the background, so the next
        events carry its host (profiles and touches are per host)."""
        if room_id not in self.runtime.rooms:
            self.runtime.spawn(self.runtime.room_info(room_id))

    async def room(self, event: Event) -> None:
        data = event.data
        state = None if event.name == "room.created" else event.name.split(".", 1)[1]
        self.runtime.note_room(int(data["room_id"]), int(data.get("host_id") or 0), state, event.at)
        if state in ("live", "ended"):
            self.runtime.offer(Record(r.MARKER, int(data["room_id"]), event.at, data={"type": state}))

    async def shelf(self, event: Event) -> None:
        for item in event.data.get("items") or ():
            if isinstance(item, dict) and isinstance(item.get("product"), dict):
                self.runtime.note_product(item["product"])

    async def interaction(self, event: Event) -> None:
        data = event.data
        room_id = data.get("room_id")
        if not isinstance(room_id, int):
            return
        user_id = data.get("user_id")
        if user_id is None and isinstance(data.get("question"), dict):
            user_id = data["question"].get("user_id")
        fallback = f"l:{str(data.get('viewer') or '')[:30]}" if data.get("viewer") else ""
        visitor, _key = self.visitor_of(room_id, user_id if isinstance(user_id, int) else None, fallback)
        self.learn(room_id)
        kind = INTERACTION_EVENTS[event.name]
        count = data.get("count") if kind == r.LIKE else 0
        self.runtime.offer(Record(kind, room_id, event.at, visitor=visitor, quantity=int(count or 0)))

    async def coupon_claimed(self, event: Event) -> None:
        """commerce: {"room_id", "drop_id", "user_id"} (+ "coupon_id" when it sends it; else the drop's coupon,
        learned from coupon.drop_started; 0 when neither is known)."""
        data = event.data
        room_id, user_id = data.get("room_id"), data.get("user_id")
        if not isinstance(room_id, int):
            return
        visitor, _key = self.visitor_of(room_id, user_id if isinstance(user_id, int) else None)
        self.learn(room_id)
        coupon_id = data.get("coupon_id")
        if not isinstance(coupon_id, int):
            drop_id = data.get("drop_id")
            coupon_id = self.runtime.drops.get(drop_id, 0) if isinstance(drop_id, int) else 0
        self.runtime.offer(Record(r.COUPON_CLAIMED, room_id, event.at, visitor=visitor, data={"coupon_id": coupon_id}))

    async def faq_replied(self, event: Event) -> None:
        """growth's auto-reply: {"room_id", "faq_id", "user_id", "keyword"} (the keyword that matched). Counted
        per entry and keyword; never an interaction of the viewer (the answer is automatic)."""
        data = event.data
        room_id, faq_id, user_id = data.get("room_id"), data.get("faq_id"), data.get("user_id")
        if not isinstance(room_id, int) or not isinstance(faq_id, int):
            return
        visitor, _key = self.visitor_of(room_id, user_id if isinstance(user_id, int) else None)
        self.learn(room_id)
        keyword = str(data.get("keyword") or "")[:40]
        rec = Record(r.FAQ_REPLY, room_id, event.at, visitor=visitor, data={"faq_id": faq_id, "keyword": keyword})
        self.runtime.offer(rec)

    async def reminders(self, event: Event) -> None:
        """growth: {"room_id", "host_id", "user_id", "reminders"} — the room's bookings after this change."""
        data = event.data
        room_id, count = data.get("room_id"), data.get("reminders")
        if isinstance(room_id, int) and isinstance(count, int):
            self.runtime.spawn(self.runtime.note_reminders(room_id, int(data.get("host_id") or 0), count))

    async def marker(self, event: Event) -> None:
        data = event.data
        room_id = data.get("room_id")
        if isinstance(room_id, int):
            self.learn(room_id)
            marker = marker_of(event.name, data)
            self.runtime.offer(Record(r.MARKER, room_id, event.at, data=marker))
            if event.name == "shelf.pinned" and isinstance(data.get("product"), dict):
                self.runtime.note_product(data["product"])
            if isinstance(marker.get("drop_id"), int) and isinstance(marker.get("coupon_id"), int):
                self.runtime.note_drop(marker["drop_id"], marker["coupon_id"])

    async def order(self, event: Event) -> None:
        self.runtime.spawn(attribute_order(self.runtime, self, event))

    async def user_deleted(self, event: Event) -> None:
        user_id = event.data.get("user_id")
        if isinstance(user_id, int):
            self.runtime.detach(f"u:{user_id}", user_key(self.secret, user_id), user_id)


def marker_of(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A review-timeline marker: its type and a short label, plus what the advisor needs of a flash sale."""
    if name == "shelf.pinned":
        product = data.get("product") or {}
        return {"type": "pin", "label": str(product.get("title", ""))[:60], "product_id": product.get("id")}
    if name == "flash.scheduled":
        sale = data.get("sale") or {}
        return {
            "type": "flash",
            "label": str(sale.get("product_title", ""))[:60],
            "sale_id": sale.get("id"),
            "product_id": sale.get("product_id"),
            "stock": sale.get("stock_total"),
            "starts_at": sale.get("starts_at"),
            "ends_at": sale.get("ends_at"),
        }
    if name == "flash.sold_out":
        return {"type": "sold_out", "sale_id": data.get("sale_id")}
    if name == "coupon.drop_started":
        drop = data.get("drop") or {}
        coupon = drop.get("coupon") or {}
        return {
            "type": "coupon",
            "label": str(coupon.get("code") or coupon.get("name") or "")[:60],
            "drop_id": drop.get("id"),
            "coupon_id": coupon.get("id"),
        }
    if name == "show.step_done":
        return {"type": "step", "label": str(data.get("title", ""))[:60], "delay_seconds": data.get("delay_seconds")}
    if name.startswith("draw."):
        draw = data.get("draw") or {}
        return {"type": "draw" if name == "draw.opened" else "draw_drawn", "label": str(draw.get("title", ""))[:60]}
    poll = data.get("poll") or {}
    return {"type": "poll", "label": str(poll.get("question", ""))[:60]}


def subscribe(bus: EventBus, runtime: AnalyticsRuntime) -> Subscriber:
    sub = Subscriber(runtime)
    for name in ("room.created", "room.live", "room.ended", "room.reconnecting"):
        bus.subscribe(name, sub.room)
    bus.subscribe("shelf.updated", sub.shelf)
    for name in INTERACTION_EVENTS:
        bus.subscribe(name, sub.interaction)
    bus.subscribe("coupon.claimed", sub.coupon_claimed)
    bus.subscribe("faq.replied", sub.faq_replied)
    for name in ("reminder.booked", "reminder.cancelled"):
        bus.subscribe(name, sub.reminders)
    for name in MARKER_EVENTS:
        bus.subscribe(name, sub.marker)
    for name in ORDER_EVENTS:
        bus.subscribe(name, sub.order)
    bus.subscribe("user.deleted", sub.user_deleted)
    return sub
