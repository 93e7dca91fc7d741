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
    keys=("room_id", "product_id"),
    add=("impressions", "clicks", "orders", "paid", "units", "gmv", "refunds", "unpaid"),
)
PRODUCT_BUYERS = Merge(keys=("room_id", "product_id", "buyer"))
PROMOTIONS = Merge(
    keys=("room_id", "kind", "promotion_id"),
    add=("claims", "orders", "paid", "units", "gmv", "discount", "refunds"),
)
FAQ = Merge(keys=("room_id", "faq_id", "keyword"), add=("replies",))
TOUCHES = Merge(keys=("host_id", "visitor"), greatest=("last_at",), replace=("last_channel",))
INTERESTS = Merge(keys=("host_id", "visitor", "kind"), add=("seen", "clicked", "bought"))
EXPOSURES = Merge(keys=("experiment_id", "visitor"))
CONVERSIONS = Merge(keys=("experiment_id", "visitor"), add=("conversions", "revenue"), least=("first_at",))
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
        self.buyers = Upserts(table_of(m.RoomProductBuyer), PRODUCT_BUYERS)
        self.promotions = Upserts(table_of(m.RoomPromotion), PROMOTIONS)
        self.faq = Upserts(table_of(m.RoomFaq), FAQ)
        self.touches = Upserts(table_of(m.Touch), TOUCHES)
        self.interests = Upserts(table_of(m.Interest), INTERESTS)
        self.exposures = Upserts(table_of(m.Exposure), EXPOSURES)
        self.converted = Upserts(table_of(m.Exposure), CONVERSIONS)
        self.conversions: list[dict[str, Any]] = []  # paid orders with no variants: every exposure of the visitor
        self.variant_conversions: list[Record] = []  # paid orders that name their variants

    def tables(self) -> list[Upserts]:
        return [
            self.views,
            self.visitors,
            self.minutes,
            self.products,
            self.buyers,
            self.promotions,
            self.faq,
            self.touches,
            self.interests,
            self.exposures,
            self.converted,
        ]

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
        if rec.kind in (r.IMPRESSION, r.CLICK, *r.ORDER_KINDS, *r.UNPAID_KINDS):
            self._product(rec)
        if rec.kind in (*r.ORDER_KINDS, r.COUPON_CLAIMED):
            self._promotion(rec)
        if rec.kind == r.FAQ_REPLY:
            self._faq(rec)
        if rec.kind == r.ORDER_PAID and rec.visitor:
            if rec.variants:
                self.variant_conversions.append(rec)
            else:
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
            "variants": None if rec.kind in r.ORDER_KINDS else rec.variants or None,  # a view's, not an order's
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
                buyer = rec.user_key or rec.visitor
                if buyer:
                    self.buyers.put({"room_id": rec.room_id, "product_id": product_id, "buyer": buyer})
            elif rec.kind == r.ORDER_REFUNDED:
                row["refunds"] = amount
            else:
                row["unpaid"] = 1
            self.products.put(row)

    def _promotion(self, rec: Record) -> None:
        data = rec.data or {}
        if rec.kind == r.COUPON_CLAIMED:
            self.promotions.put(_promo(rec, "coupon", data.get("coupon_id"), claims=1))
            return
        units = sum(u for _pid, u, _amount in items_of(rec))
        for kind, key in (("coupon", "coupon_id"), ("flash", "flash_sale_id")):
            if not isinstance(data.get(key), int):
                continue
            if rec.kind == r.ORDER_CREATED:
                self.promotions.put(_promo(rec, kind, data[key], orders=1))
            elif rec.kind == r.ORDER_PAID:
                discount = int(data["discount"]) if isinstance(data.get("discount"), int) else 0
                self.promotions.put(
                    _promo(rec, kind, data[key], paid=1, units=units, gmv=rec.amount, discount=discount)
                )
            else:
                self.promotions.put(_promo(rec, kind, data[key], refunds=rec.amount))

    def _faq(self, rec: Record) -> None:
        data = rec.data or {}
        if isinstance(data.get("faq_id"), int):
            keyword = str(data.get("keyword") or "")[:40]
            self.faq.put({"room_id": rec.room_id, "faq_id": data["faq_id"], "keyword": keyword, "replies": 1})

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


def _promo(rec: Record, kind: str, promotion_id: Any, **counts: int) -> dict[str, Any]:
    pid = promotion_id if isinstance(promotion_id, int) else 0
    return {"room_id": rec.room_id, "kind": kind, "promotion_id": pid, **counts}
