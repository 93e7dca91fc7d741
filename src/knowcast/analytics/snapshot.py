"""The live dashboard's JSON, read from a RoomBoard. Ratios are None when their denominator is zero."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from knowcast.analytics.overlap import Overlap
from knowcast.analytics.records import minute_of

if TYPE_CHECKING:
    from knowcast.analytics.live import RoomBoard

TOP_PRODUCTS = 5
TOP_FAQ = 10
TIMELINE_SHOWN = 60


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def funnel(board: RoomBoard) -> list[dict[str, Any]]:
    counts = [board.uv, *(board.funnel[flag] for flag in ("saw", "clicked", "ordered", "paid"))]
    steps = []
    for i, (name, count) in enumerate(zip(("entered", "saw", "clicked", "ordered", "paid"), counts, strict=True)):
        previous = counts[i - 1] if i else board.uv
        steps.append(
            {"step": name, "viewers": count, "of_previous": ratio(count, previous), "of_uv": ratio(count, board.uv)}
        )
    return steps


def top_products(board: RoomBoard) -> list[dict[str, Any]]:
    """The best sellers by GMV from the order lines (then clicks, impressions); conversion = the product's
    buyers / UV (docs/metrics.md, per product)."""
    ranked = sorted(board.products.items(), key=lambda kv: (kv[1].gmv, kv[1].clicks, kv[1].impressions), reverse=True)
    return [
        {
            "product_id": pid or None,
            "impressions": s.impressions,
            "clicks": s.clicks,
            "ctr": ratio(s.clicks, s.impressions),
            "orders": s.orders,
            "paid": s.paid,
            "units": s.units,
            "gmv": s.gmv,
            "buyers": len(s.buyers),
            "conversion": ratio(len(s.buyers), board.uv),
            "unpaid": s.unpaid,
        }
        for pid, s in ranked[:TOP_PRODUCTS]
    ]


def faq_replies(board: RoomBoard) -> list[dict[str, Any]]:
    ranked = sorted(board.faq.items(), key=lambda kv: kv[1], reverse=True)
    return [{"faq_id": faq_id, "keyword": keyword, "replies": n} for (faq_id, keyword), n in ranked[:TOP_FAQ]]


def channel_mix(board: RoomBoard) -> list[dict[str, Any]]:
    """UV, buyers and GMV per channel: a visitor belongs to the channel of their earliest view (a buyer never
    seen watching, to the channel their paid orders name), whatever order the events came in. Visitors with no
    channel are direct ones: one row with the "direct" channel, not two named alike."""
    merged: dict[str, tuple[int, set[Any], int]] = {}
    for key, s in board.channels.items():
        uv, buyers, gmv = merged.get(key or "direct", (0, set(), 0))
        merged[key or "direct"] = (uv + s.uv, buyers | set(s.buyers), gmv + s.gmv)
    shown = [(name, row) for name, row in merged.items() if row[0] or row[1] or row[2]]
    ranked = sorted(shown, key=lambda kv: (-kv[1][0], kv[0]))
    return [
        {"channel": name, "uv": uv, "share": ratio(uv, board.uv), "buyers": len(buyers), "gmv": gmv}
        for name, (uv, buyers, gmv) in ranked
    ]


def timeline(board: RoomBoard, now: datetime, overlap: Overlap) -> list[dict[str, Any]]:
    last = minute_of(now)
    rows = []
    for minute in range(last - TIMELINE_SHOWN + 1, last + 1):
        viewers = overlap.per_minute.get(minute, 0)  # the sweep fills every minute between views; none open elsewhere
        bucket = board.minutes.get(minute)
        if bucket is None:
            rows.append({"t": minute * 60, "viewers": viewers})
            rows[-1].update(chat=0, likes=0, interactions=0, orders=0, gmv=0)
            continue
        rows.append(
            {
                "t": minute * 60,
                "viewers": viewers,
                "chat": bucket.chat,
                "likes": bucket.likes,
                "interactions": bucket.interactions,
                "orders": bucket.orders,
                "gmv": bucket.gmv,
            }
        )
    return rows


def build(board: RoomBoard, now: datetime) -> dict[str, Any]:
    minute = minute_of(now)
    active_now, active_before = board.active.counts(minute)
    inter_now, inter_before = board.interacting.counts(minute)
    buyers = len(board.buyers)
    overlap = board.overlap(now)
    return {
        "room_id": board.room_id,
        "at": now.isoformat(),
        "currency": board.currency,
        "viewers_now": overlap.open_now,
        "peak": overlap.peak,
        "peak_at": overlap.peak_at.isoformat() if overlap.peak_at else None,
        "uv": board.uv,
        "pv": board.pv,
        "avg_watch_seconds": ratio(board.watched, board.uv),
        "interaction_rate": ratio(board.interactors, board.uv),
        "interaction_last5": ratio(inter_now, active_now),
        "interaction_prev5": ratio(inter_before, active_before),
        "active_last5": active_now,
        "active_prev5": active_before,
        "likes": board.likes,
        "chat": board.chat,
        "followers": board.followers,
        "A": board.uv,
        "P": ratio(buyers, board.uv),
        "V": ratio(board.gmv, buyers),
        "buyers": buyers,
        "gmv": board.gmv,
        "net_gmv": board.gmv - board.refunds,
        "orders_paid": board.orders_paid,
        "orders_unpaid": board.unpaid,
        "coupons_claimed": board.coupons,
        "faq_replies": sum(board.faq.values()),
        "faq": faq_replies(board),
        "gpm": ratio(board.gmv * 1000, board.pv),
        "uv_value": ratio(board.gmv, board.uv),
        "funnel": funnel(board),
        "top_products": top_products(board),
        "channels": channel_mix(board),
        "timeline": timeline(board, now, overlap),
        "markers": board.markers[-20:],
    }
