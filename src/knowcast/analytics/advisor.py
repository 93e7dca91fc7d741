"""The real-time advisor: rules over the live figures that tell the host what to do now, each with the numbers
behind it. The host can dismiss a piece of advice; five minutes after it was raised, the same figures are
logged beside it as its outcome, so each rule can be judged later (``GET /api/v1/analytics/advice``).

Rules (thresholds are module constants, documented in docs/analytics.md):
- interaction_falling: interaction rate of the last 5 minutes below 70 % of the 5 before → open a poll or a draw
- clicked_not_bought: a product clicked ≥ 20 times with under 3 % of clicks paid → consider a coupon
- viewers_peaking: viewers at ≥ 95 % of the peak and 20 % above 5 minutes ago → pin the best seller
- flash_sellout_fast: a flash sale sold out in under half its time → more stock next time
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.analytics.errors import AnalyticsCode
from knowcast.db.types import utcnow
from knowcast.errors import NotFound

if TYPE_CHECKING:
    from knowcast.analytics.live import RoomBoard

FALLING = 0.7
MIN_ACTIVE = 10
MIN_CLICKS = 20
CLICK_CONVERSION = 0.03
MIN_VIEWERS = 20
PEAK_SHARE = 0.95
RISE = 1.2
FAST_SHARE = 0.5
COOLDOWN = timedelta(minutes=10)
OUTCOME_AFTER = timedelta(minutes=5)
SHOWN_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class Suggestion:
    rule: str
    key: str
    numbers: dict[str, Any]


def evaluate(board: RoomBoard, snap: dict[str, Any], now: datetime) -> list[Suggestion]:
    out = [*_interaction(snap), *_products(board), *_peaking(snap), *_flash(board)]
    return out


def _interaction(snap: dict[str, Any]) -> list[Suggestion]:
    last, before = snap["interaction_last5"], snap["interaction_prev5"]
    if last is None or not before or snap["active_last5"] < MIN_ACTIVE or last >= FALLING * before:
        return []
    numbers = {"last5": round(last, 4), "prev5": round(before, 4), "drop": round(1 - last / before, 4)}
    return [Suggestion("interaction_falling", "", {**numbers, "active_last5": snap["active_last5"]})]


def _products(board: RoomBoard) -> list[Suggestion]:
    out = []
    for product_id, stats in board.products.items():
        if product_id and stats.clicks >= MIN_CLICKS and stats.paid / stats.clicks < CLICK_CONVERSION:
            numbers = {"product_id": product_id, "clicks": stats.clicks, "paid": stats.paid}
            out.append(
                Suggestion(
                    "clicked_not_bought",
                    str(product_id),
                    {**numbers, "conversion": round(stats.paid / stats.clicks, 4)},
                )
            )
    return out


def _peaking(snap: dict[str, Any]) -> list[Suggestion]:
    now, peak = snap["viewers_now"], snap["peak"]
    timeline = snap["timeline"]
    earlier = timeline[-6]["viewers"] if len(timeline) >= 6 else 0
    if now < MIN_VIEWERS or now < PEAK_SHARE * peak or now < RISE * max(earlier, 1):
        return []
    best = next((p for p in snap["top_products"] if p["product_id"]), None)
    numbers = {"viewers_now": now, "peak": peak, "five_minutes_ago": earlier}
    if best:
        numbers.update(product_id=best["product_id"], product_gmv=best["gmv"], product_clicks=best["clicks"])
    return [Suggestion("viewers_peaking", "", numbers)]


def _flash(board: RoomBoard) -> list[Suggestion]:
    out = []
    for sale_id, sale in board.flash.items():
        if sale.sold_out_at is None:
            continue
        duration = (sale.ends - sale.starts).total_seconds()
        took = (sale.sold_out_at - sale.starts).total_seconds()
        if duration > 0 and took < FAST_SHARE * duration:
            numbers = {
                "sale_id": sale_id,
                "stock": sale.stock,
                "sold_out_seconds": round(took),
                "duration_seconds": round(duration),
            }
            out.append(Suggestion("flash_sellout_fast", str(sale_id), numbers))
    return out


def _view(row: m.Advice) -> dict[str, Any]:
    return {"id": row.id, "rule": row.rule, "numbers": row.numbers, "raised_at": row.raised_at.isoformat()}


async def advise(session: AsyncSession, board: RoomBoard, snap: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Raise new advice (once per rule and subject per cooldown), log outcomes that are due, and return the
    advice the host has not dismissed."""
    recent = list(
        await session.scalars(
            select(m.Advice).where(
                m.Advice.room_id == board.room_id, m.Advice.raised_at >= now - max(COOLDOWN, SHOWN_FOR) - OUTCOME_AFTER
            )
        )
    )
    seen = {(a.rule, str(a.numbers.get("key", ""))) for a in recent if a.raised_at >= now - COOLDOWN}
    seen |= {(a.rule, str(a.numbers.get("key", ""))) for a in recent if a.rule == "flash_sellout_fast"}
    changed = False
    for suggestion in evaluate(board, snap, now):
        if (suggestion.rule, suggestion.key) in seen:
            continue
        row = m.Advice(
            room_id=board.room_id,
            rule=suggestion.rule,
            numbers={**suggestion.numbers, "key": suggestion.key},
            raised_at=now,
        )
        session.add(row)
        recent.append(row)
        changed = True
    for row in recent:
        if row.outcome is None and row.id is not None and now - row.raised_at >= OUTCOME_AFTER:
            row.outcome, row.outcome_at = outcome_of(snap, row), now
            changed = True
    if changed:
        await session.commit()
    shown = [a for a in recent if a.dismissed_at is None and a.raised_at >= now - SHOWN_FOR]
    return [_view(a) for a in sorted(shown, key=lambda a: a.raised_at, reverse=True)]


def outcome_of(snap: dict[str, Any], row: m.Advice) -> dict[str, Any]:
    """The same figures five minutes on, and whether the host dismissed the advice."""
    out = {
        "interaction_last5": snap["interaction_last5"],
        "viewers_now": snap["viewers_now"],
        "gmv": snap["gmv"],
        "dismissed": row.dismissed_at is not None,
    }
    product_id = row.numbers.get("product_id")
    if product_id:
        product = next((p for p in snap["top_products"] if p["product_id"] == product_id), None)
        out["product_paid"] = product["paid"] if product else None
    return out


async def get_advice(session: AsyncSession, advice_id: int) -> m.Advice:
    row = await session.get(m.Advice, advice_id)
    if row is None:
        raise NotFound("no such advice", code=AnalyticsCode.ADVICE_NOT_FOUND)
    return row


async def dismiss(session: AsyncSession, row: m.Advice) -> None:
    if row.dismissed_at is None:
        row.dismissed_at = utcnow()
        await session.commit()


async def history(session: AsyncSession, room_id: int) -> list[dict[str, Any]]:
    rows = await session.scalars(select(m.Advice).where(m.Advice.room_id == room_id).order_by(m.Advice.id))
    return [
        {**_view(a), "dismissed_at": a.dismissed_at.isoformat() if a.dismissed_at else None, "outcome": a.outcome}
        for a in rows
    ]
