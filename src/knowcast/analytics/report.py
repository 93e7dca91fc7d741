"""The review report (复盘) of one stream, from stored facts: summary, timeline with markers, funnel,
per-product and per-channel tables with costs and ROI, coupons and flash sales, FAQ auto-replies, the
run-of-show as planned against as run, and A × P × V against the previous stream.

Every figure follows docs/metrics.md; the attribution window in force is part of the report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import facts_read
from knowcast.analytics import models as m
from knowcast.analytics import records as r
from knowcast.analytics.decompose import Apv, decompose
from knowcast.analytics.errors import AnalyticsCode
from knowcast.analytics.facts_read import Totals
from knowcast.analytics.snapshot import ratio
from knowcast.errors import NotFound

Model = Literal["last", "first"]
FUNNEL = ("entered", "saw", "clicked", "ordered", "paid")


def summary(t: Totals) -> dict[str, Any]:
    return {
        "uv": t.uv,
        "pv": t.pv,
        "avg_watch_seconds": ratio(t.watched, t.uv),
        "interaction_rate": ratio(t.interacted, t.uv),
        "buyers": t.buyers,
        "orders_paid": t.orders_paid,
        "gmv": t.gmv,
        "refunds": t.refunds,
        "net_gmv": t.gmv - t.refunds,
        "gpm": ratio(t.gmv * 1000, t.pv),
        "uv_value": ratio(t.gmv, t.uv),
        "conversion": ratio(t.buyers, t.uv),
        "click_through": ratio(t.clicked, t.saw),
        **Apv(t.uv, t.buyers, t.gmv).as_dict(),
    }


def funnel(t: Totals) -> list[dict[str, Any]]:
    counts = [t.uv, t.saw, t.clicked, t.ordered, t.paid]
    return [
        {"step": s, "viewers": c, "of_previous": ratio(c, counts[i - 1] if i else t.uv), "of_uv": ratio(c, t.uv)}
        for i, (s, c) in enumerate(zip(FUNNEL, counts, strict=True))
    ]


def breakdown(rows: list[tuple[str, Totals]]) -> list[dict[str, Any]]:
    out = [{"key": key or "unknown", **summary(t), "funnel": [s["viewers"] for s in funnel(t)]} for key, t in rows]
    return sorted(out, key=lambda x: (x["gmv"], x["uv"]), reverse=True)


async def timeline(session: AsyncSession, room_id: int, per_minute: dict[int, int]) -> list[dict[str, Any]]:
    rows = {
        row.minute: row for row in await session.scalars(select(m.RoomMinute).where(m.RoomMinute.room_id == room_id))
    }
    minutes = sorted(set(rows) | set(per_minute))
    if not minutes:
        return []
    out = []
    for minute in range(minutes[0], minutes[-1] + 1):
        row = rows.get(minute)
        out.append(
            {
                "t": minute * 60,
                "viewers": per_minute.get(minute, 0),
                "chat": row.chat if row else 0,
                "likes": row.likes if row else 0,
                "interactions": row.interactions if row else 0,
                "orders": row.orders if row else 0,
                "paid": row.paid if row else 0,
                "gmv": row.gmv if row else 0,
            }
        )
    return out


async def markers(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    E = m.AnalyticsEvent
    query = select(E.at, E.data).where(E.room_id == room_id, E.kind == r.MARKER).order_by(E.at).limit(1000)
    return [
        {"at": at.isoformat(), "t": int(at.timestamp()), **(data or {})} for at, data in await session.execute(query)
    ]


async def products(session: AsyncSession, room_id: int, uv: int) -> list[dict[str, Any]]:
    """Per product, from the order lines: units, GMV (the order's paid amount allocated over its lines), buyers
    (distinct accounts with a paid order naming it) and conversion = buyers / UV; card impressions and clicks."""
    P, Info, B = m.RoomProduct, m.AnalyticsProduct, m.RoomProductBuyer
    buyers = (
        select(func.count()).where(B.room_id == P.room_id, B.product_id == P.product_id).correlate(P).scalar_subquery()
    )
    query = (
        select(P, Info.title, Info.kind, buyers)
        .outerjoin(Info, Info.product_id == P.product_id)
        .where(P.room_id == room_id)
    )
    out = []
    for row, title, kind, bought in await session.execute(query):
        out.append(
            {
                "product_id": row.product_id or None,
                "title": title or "",
                "kind": kind or "",
                "impressions": row.impressions,
                "clicks": row.clicks,
                "ctr": ratio(row.clicks, row.impressions),
                "orders": row.orders,
                "paid": row.paid,
                "units": row.units,
                "gmv": row.gmv,
                "refunds": row.refunds,
                "buyers": int(bought or 0),
                "conversion": ratio(int(bought or 0), uv),
                "unpaid": row.unpaid,
                "click_to_paid": ratio(row.paid, row.clicks),
            }
        )
    return sorted(out, key=lambda x: (x["gmv"], x["units"], x["clicks"]), reverse=True)


async def promotions(session: AsyncSession, room_id: int, marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Coupons (claims, orders that used them, GMV, discount given) and flash sales (orders, units, GMV),
    named from the timeline's markers (the coupon's code, the sale's product)."""
    names = {("coupon", mk.get("coupon_id")): mk.get("label") for mk in marks if mk.get("type") == "coupon"}
    names.update({("flash", mk.get("sale_id")): mk.get("label") for mk in marks if mk.get("type") == "flash"})
    rows = await session.scalars(select(m.RoomPromotion).where(m.RoomPromotion.room_id == room_id))
    out = [
        {
            "kind": row.kind,
            "id": row.promotion_id or None,
            "label": names.get((row.kind, row.promotion_id)) or "",
            "claims": row.claims,
            "orders": row.orders,
            "paid": row.paid,
            "units": row.units,
            "gmv": row.gmv,
            "discount": row.discount,
            "refunds": row.refunds,
            "use_rate": ratio(row.paid, row.claims) if row.kind == "coupon" else None,
        }
        for row in rows
    ]
    return sorted(out, key=lambda x: (x["kind"], -x["gmv"], -x["claims"]))


async def faq(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    """FAQ auto-replies per entry, with the keywords that matched and how often each did (most first)."""
    entries: dict[int, dict[str, Any]] = {}
    rows = await session.scalars(select(m.RoomFaq).where(m.RoomFaq.room_id == room_id))
    for row in sorted(rows, key=lambda x: (-x.replies, x.keyword)):  # in Python: one order on every database
        entry = entries.setdefault(row.faq_id, {"faq_id": row.faq_id, "replies": 0, "keywords": {}})
        entry["replies"] += row.replies
        entry["keywords"][row.keyword] = row.replies
    return sorted(entries.values(), key=lambda x: (-x["replies"], x["faq_id"]))


async def run_of_show(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    """The run-of-show (直播脚本) as a table: step, planned time, actual time, delta (actual − planned)."""
    from knowcast.growth import service as growth

    return [
        {
            "position": step["position"],
            "title": step["title"],
            "kind": step["kind"],
            "state": step["state"],
            "planned_at": _iso(step["planned_at"]),
            "actual_at": _iso(step["started_at"]),
            "delta_seconds": step["delay_seconds"],
        }
        for step in await growth.run_of_show(session, room_id)
    ]


def money(costs: list[m.Cost], t: Totals) -> dict[str, Any]:
    by_category: dict[str, int] = defaultdict(int)
    for cost in costs:
        by_category[cost.category] += cost.amount
    total, ads = sum(by_category.values()), by_category.get("ads", 0)
    return {
        "by_category": dict(by_category),
        "total": total,
        "ad_spend": ads,
        "profit": t.gmv - t.refunds - total,
        "roi": ratio(t.gmv - total, total),
        "ad_roi": ratio(t.gmv - ads, ads),
        "cost_per_viewer": ratio(total, t.uv),
        "cost_per_buyer": ratio(total, t.buyers),
    }


def channels(rows: list[tuple[str, Totals]], costs: list[m.Cost]) -> list[dict[str, Any]]:
    spend: dict[str, int] = defaultdict(int)
    for cost in costs:
        if cost.category == "ads":
            spend[cost.channel] += cost.amount
    named: dict[str, Totals] = {}  # visitors without a channel are direct ones: one row, not two named alike
    for key, t in rows:
        name = key or "direct"
        named[name] = _sum(named[name], t) if name in named else t
    out = []
    for name, t in named.items():
        s = spend.pop(name, 0)
        out.append({"channel": name, **_channel_money(t, s)})
    out += [{"channel": name, **_channel_money(Totals(), s)} for name, s in spend.items()]  # spend, no viewers
    return sorted(out, key=lambda x: (x["gmv"], x["uv"]), reverse=True)


def _sum(a: Totals, b: Totals) -> Totals:
    """Two disjoint groups of visitors as one (each visitor has one channel, so counts add up)."""
    return Totals(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(Totals)})


def _channel_money(t: Totals, spend: int) -> dict[str, Any]:
    return {
        "uv": t.uv,
        "pv": t.pv,
        "buyers": t.buyers,
        "gmv": t.gmv,
        "conversion": ratio(t.buyers, t.uv),
        "spend": spend,
        "cost_per_viewer": ratio(spend, t.uv),
        "cost_per_buyer": ratio(spend, t.buyers),
        "roi": ratio(t.gmv - spend, spend),
    }


async def room_row(session: AsyncSession, room_id: int) -> m.AnalyticsRoom:
    room = await session.get(m.AnalyticsRoom, room_id)
    if room is None:
        raise NotFound("analytics knows nothing of this room yet", code=AnalyticsCode.ANALYTICS_ROOM_UNKNOWN)
    return room


async def previous(session: AsyncSession, room: m.AnalyticsRoom) -> facts_read.Stream | None:
    if room.started_at is None:
        return None
    earlier = await facts_read.streams_of(session, room.host_id, before=room.started_at)
    return earlier[-1] if earlier else None


async def review(session: AsyncSession, room_id: int, attribution_hours: int, model: Model = "last") -> dict[str, Any]:
    room = await room_row(session, room_id)
    t = await facts_read.totals(session, room_id)
    peak, peak_at, per_minute = await facts_read.concurrency(session, room_id)
    costs = list(await session.scalars(select(m.Cost).where(m.Cost.room_id == room_id)))
    by_channel = await (
        facts_read.first_touch(session, room_id)
        if model == "first"
        else facts_read.grouped(session, room_id, m.RoomVisitor.channel)
    )
    before = await previous(session, room)
    now_apv = Apv(t.uv, t.buyers, t.gmv)
    marks = await markers(session, room_id)
    answered = await faq(session, room_id)
    extra = {"peak": peak, "peak_at": _iso(peak_at), "reminders": room.reminders}
    return {
        "room_id": room_id,
        "host_id": room.host_id,
        "state": room.state,
        "started_at": _iso(room.started_at),
        "ended_at": _iso(room.ended_at),
        "currency": room.currency,
        "attribution": {"model": model, "window_hours": attribution_hours},
        "summary": {**summary(t), **extra, "faq_replies": sum(x["replies"] for x in answered)},
        "funnel": funnel(t),
        "timeline": await timeline(session, room_id, per_minute),
        "markers": marks,
        "products": await products(session, room_id, t.uv),
        "promotions": await promotions(session, room_id, marks),
        "faq": answered,
        "run_of_show": await run_of_show(session, room_id),
        "channels": channels(by_channel, costs),
        "devices": breakdown(await facts_read.grouped(session, room_id, m.RoomVisitor.device)),
        "variants": breakdown(await facts_read.by_variant(session, room_id)),
        "costs": money(costs, t),
        "previous": _previous(before, now_apv),
    }


def _previous(before: facts_read.Stream | None, now: Apv) -> dict[str, Any] | None:
    if before is None:
        return None
    then = Apv(before.totals.uv, before.totals.buyers, before.totals.gmv)
    return {
        "room_id": before.room_id,
        "started_at": _iso(before.started_at),
        **then.as_dict(),
        "change": decompose(then, now),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
