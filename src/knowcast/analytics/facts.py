"""From a batch of records to the rows that keep the stored facts current (views, visitors, minutes, products,
touches, interests, exposures). Each record becomes additive deltas, so facts are right whichever process wrote
which events, and reports read facts instead of re-scanning the raw log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from knowcast.analytics import models as m
from knowcast.analytics import records as r
from knowcast.analytics.live import items_of
from knowcast.analytics.records import Record, minute_of
from knowcast.analytics.upsert import Merge, Upserts, table_of

VIEWS = Merge(
    keys=("view_id",),
    add=("watched_seconds",),
    greatest=("last_beat_at", "ended_at"),
    least=("started_at",),
    replace=("user_key", "channel", "medium", "campaign", "device"),
)
VISITORS = Merge(
    keys=("room_id", "visitor"),
    add=("views", "watched_seconds", "interactions", "orders_paid", "gmv", "refunds"),
    greatest=("host_id", "last_at", "saw", "clicked", "ordered", "paid", "interacted", "last_order_at"),
    least=("first_at",),
    replace=("channel", "device", "variants", "buyer_key"),
)
MINUTE_COUNTS = ("views_started", "chat", "likes", "interactions", "impressions", "clicks", "orders", "paid")
MINUTES = Merge(keys=("room_id", "minute"), add=(*MINUTE_COUNTS, "gmv", "refunds"))
PRODUCTS = Merge(
    keys=("room_id", "product_id"), add=("impressions", "clicks", "orders", "paid", "units", "gmv", "refunds")
)
TOUCHES = Merge(keys=("host_id", "visitor"), greatest=("last_at",), replace=("last_channel",))
INTERESTS = Merge(keys=("host_id", "visitor", "kind"), add=("seen", "clicked", "bought"))
EXPOSURES = Merge(keys=("experiment_id", "visitor"))
FLAG_OF = {r.IMPRESSION: "saw", r.CLICK: "clicked", r.ORDER_CREATED: "ordered", r.ORDER_PAID: "paid"}
MINUTE_OF_KIND = {
    r.VIEW_START: "views_started",
    r.CHAT: "chat",
    r.IMPRESSION: "impressions",
    r.CLICK: "clicks",
    r.ORDER_CREATED: "orders",
    r.ORDER_PAID: "paid",
}


class Facts:
    def __init__(self, kinds: Mapping[int, str]) -> None:
        self.kinds = kinds  # product id → product kind, for interests
        self.views = Upserts(table_of(m.AnalyticsView), VIEWS)
        self.visitors = Upserts(table_of(m.RoomVisitor), VISITORS)
        self.minutes = Upserts(table_of(m.RoomMinute), MINUTES)
        self.products = Upserts(table_of(m.RoomProduct), PRODUCTS)
        self.touches = Upserts(table_of(m.Touch), TOUCHES)
        self.interests = Upserts(table_of(m.Interest), INTERESTS)
        self.exposures = Upserts(table_of(m.Exposure), EXPOSURES)
        self.conversions: list[dict[str, Any]] = []

    def tables(self) -> list[Upserts]:
        return [self.views, self.visitors, self.minutes, self.products, self.touches, self.interests, self.exposures]

    def add(self, rec: Record) -> None:
        if rec.kind == r.EXPOSURE:
            self._exposure(rec)
            return
        self._minute(rec)
        if rec.kind in r.VIEW_KINDS:
            self._view(rec)
        if rec.visitor:
            self._visitor(rec)
            self._interest(rec)
        if rec.kind in (r.IMPRESSION, r.CLICK, *r.ORDER_KINDS):
            self._product(rec)
        if rec.kind == r.ORDER_PAID and rec.visitor:
            self.conversions.append({"v": rec.visitor, "h": rec.host_id, "at": rec.at, "amount": rec.amount})

    def _minute(self, rec: Record) -> None:
        row: dict[str, Any] = {"room_id": rec.room_id, "minute": minute_of(rec.at)}
        column = MINUTE_OF_KIND.get(rec.kind)
        if column:
            row[column] = 1
        if rec.kind in r.INTERACTIONS:
            row["interactions"] = 1
            if rec.kind == r.LIKE:
                row["likes"] = max(1, rec.quantity)
        if rec.kind == r.ORDER_PAID:
            row["gmv"] = rec.amount
        elif rec.kind == r.ORDER_REFUNDED:
            row["refunds"] = rec.amount
        if len(row) > 2:
            self.minutes.put(row)

    def _view(self, rec: Record) -> None:
        if rec.view_id is None:
            return
        data = rec.data or {}
        self.views.put(
            {
                "view_id": rec.view_id,
                "room_id": rec.room_id,
                "visitor": rec.visitor,
                "user_key": rec.user_key,
                "channel": rec.channel or None,
                "medium": data.get("medium") or None,
                "campaign": data.get("campaign") or None,
                "device": rec.device or None,
                "started_at": rec.at,
                "last_beat_at": rec.at,
                "ended_at": rec.at if rec.kind == r.VIEW_END else None,
                "watched_seconds": rec.watched,
            }
        )
        if rec.kind == r.VIEW_START and rec.host_id:
            row = {"host_id": rec.host_id, "visitor": rec.visitor, "first_channel": rec.channel, "first_at": rec.at}
            self.touches.put({**row, "last_channel": rec.channel, "last_at": rec.at})

    def _visitor(self, rec: Record) -> None:
        row: dict[str, Any] = {
            "room_id": rec.room_id,
            "visitor": rec.visitor,
            "host_id": rec.host_id,
            "first_at": rec.at,
            "last_at": rec.at,
            "channel": rec.channel or None if rec.kind == r.VIEW_START else None,
            "device": rec.device or None if rec.kind == r.VIEW_START else None,
            "variants": rec.variants or None,
            "buyer_key": rec.user_key if rec.kind == r.ORDER_PAID else None,
            "views": int(rec.kind == r.VIEW_START),
            "watched_seconds": rec.watched,
        }
        flag = FLAG_OF.get(rec.kind)
        if flag:
            row[flag] = 1
        if rec.kind in r.INTERACTIONS:
            row["interacted"], row["interactions"] = 1, 1
        if rec.kind == r.ORDER_PAID:
            row.update(orders_paid=1, gmv=rec.amount, last_order_at=rec.at)
        elif rec.kind == r.ORDER_REFUNDED:
            row["refunds"] = rec.amount
        self.visitors.put(row)

    def _product(self, rec: Record) -> None:
        if rec.kind in (r.IMPRESSION, r.CLICK):
            column = "impressions" if rec.kind == r.IMPRESSION else "clicks"
            self.products.put({"room_id": rec.room_id, "product_id": rec.product_id or 0, column: 1})
            return
        for product_id, units, amount in items_of(rec):
            row: dict[str, Any] = {"room_id": rec.room_id, "product_id": product_id}
            if rec.kind == r.ORDER_CREATED:
                row["orders"] = 1
            elif rec.kind == r.ORDER_PAID:
                row.update(paid=1, units=units, gmv=amount)
            else:
                row["refunds"] = amount
            self.products.put(row)

    def _interest(self, rec: Record) -> None:
        if not rec.host_id or rec.kind not in (r.IMPRESSION, r.CLICK, r.ORDER_PAID):
            return
        if rec.kind == r.ORDER_PAID:
            lines = [(pid, units) for pid, units, _amount in items_of(rec)]
        else:
            lines = [(rec.product_id or 0, 1)]
        for product_id, units in lines:
            kind = self.kinds.get(product_id)
            if not kind:
                continue
            row: dict[str, Any] = {"host_id": rec.host_id, "visitor": rec.visitor, "kind": kind}
            column = {r.IMPRESSION: "seen", r.CLICK: "clicked"}.get(rec.kind, "bought")
            row[column] = units if column == "bought" else 1
            self.interests.put(row)

    def _exposure(self, rec: Record) -> None:
        data = rec.data or {}
        experiment_id, variant = data.get("experiment_id"), data.get("variant")
        if isinstance(experiment_id, int) and isinstance(variant, str) and rec.visitor:
            row = {"experiment_id": experiment_id, "visitor": rec.visitor, "host_id": rec.host_id}
            self.exposures.put({**row, "variant": variant, "first_at": rec.at})
