"""The review report (复盘) of one stream, from stored facts: summary, timeline with markers, funnel,
per-product and per-channel tables with costs and ROI, and A × P × V against the previous stream.

Every figure follows docs/metrics.md; the attribution window in force is part of the report.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import facts_read
from knowcast.analytics import models as m
from knowcast.analytics import records as r
from knowcast.analytics.decompose import Apv, decompose
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


async def products(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    P, Info = m.RoomProduct, m.AnalyticsProduct
    query = (
        select(P, Info.title, Info.kind).outerjoin(Info, Info.product_id == P.product_id).where(P.room_id == room_id)
    )
    out = []
    for row, title, kind in await session.execute(query):
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
                "click_to_paid": ratio(row.paid, row.clicks),
            }
        )
    return sorted(out, key=lambda x: (x["gmv"], x["clicks"]), reverse=True)


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
    out = []
    for key, t in rows:
        name = key or "direct"
        s = spend.pop(name, 0)
        out.append({"channel": name, **_channel_money(t, s)})
    out += [{"channel": name, **_channel_money(Totals(), s)} for name, s in spend.items()]  # spend, no viewers
    return sorted(out, key=lambda x: (x["gmv"], x["uv"]), reverse=True)


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
        raise NotFound("analytics knows nothing of this room yet", code="analytics.room_unknown")
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
    return {
        "room_id": room_id,
        "host_id": room.host_id,
        "state": room.state,
        "started_at": _iso(room.started_at),
        "ended_at": _iso(room.ended_at),
        "currency": room.currency,
        "attribution": {"model": model, "window_hours": attribution_hours},
        "summary": {**summary(t), "peak": peak, "peak_at": _iso(peak_at)},
        "funnel": funnel(t),
        "timeline": await timeline(session, room_id, per_minute),
        "markers": await markers(session, room_id),
        "products": await products(session, room_id),
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
