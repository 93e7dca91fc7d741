"""The host's own analytics inputs: costs per stream and channel, share links, saved segments, experiments.
The only code besides the writer that changes analytics tables."""

from __future__ import annotations

import secrets
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.analytics import stats
from knowcast.analytics.channels import clean
from knowcast.analytics.errors import AnalyticsCode
from knowcast.analytics.schemas import CostIn, ExperimentIn, PlanQuery, SegmentIn, ShareLinkIn
from knowcast.commerce import ownership
from knowcast.db.types import MAX_ROW_ID, utcnow
from knowcast.errors import Conflict, ErrorCode, NotFound, ValidationFailed

Row = TypeVar("Row", m.Cost, m.ShareLink, m.Segment, m.Experiment)


async def _get(session: AsyncSession, model: type[Row], row_id: int, what: str) -> Row:
    row = await session.get(model, row_id)
    if row is None:
        raise NotFound(f"no such {what}", code=AnalyticsCode(f"{what}.not_found"))
    return row


async def _rows(
    session: AsyncSession, model: type[Row], owner: Any, value: int, newest_first: bool = False
) -> list[Row]:
    """A room's (or a host's) rows of one kind, in the order they were made."""
    order = model.id.desc() if newest_first else model.id
    return list(await session.scalars(select(model).where(owner == value).order_by(order)))


async def _save(session: AsyncSession, row: Row) -> Row:
    session.add(row)
    await session.commit()
    return row


async def _delete(session: AsyncSession, row: Row) -> None:
    await session.delete(row)
    await session.commit()


async def add_cost(session: AsyncSession, host_id: int, room_id: int, data: CostIn, currency: str) -> m.Cost:
    channel = clean(data.channel)
    if data.category == "ads" and not channel:
        raise ValidationFailed(
            "ad spend needs a channel", code=AnalyticsCode.COST_CHANNEL_REQUIRED, fields={"channel": "required"}
        )
    row = m.Cost(
        host_id=host_id,
        room_id=room_id,
        category=data.category,
        channel=channel if data.category == "ads" else "",
        amount=data.amount,
        currency=data.currency or currency,
        note=data.note.strip(),
    )
    return await _save(session, row)


async def costs_of(session: AsyncSession, room_id: int) -> list[m.Cost]:
    return await _rows(session, m.Cost, m.Cost.room_id, room_id)


async def get_cost(session: AsyncSession, cost_id: int) -> m.Cost:
    return await _get(session, m.Cost, cost_id, "cost")


async def delete_cost(session: AsyncSession, row: m.Cost) -> None:
    await _delete(session, row)


async def add_link(session: AsyncSession, host_id: int, room_id: int, data: ShareLinkIn) -> m.ShareLink:
    source = clean(data.source)
    if not source:
        raise ValidationFailed(
            "name the channel", code=AnalyticsCode.LINK_SOURCE_REQUIRED, fields={"source": "required"}
        )
    row = m.ShareLink(
        host_id=host_id, room_id=room_id, source=source, medium=clean(data.medium), campaign=clean(data.campaign)
    )
    return await _save(session, row)


async def links_of(session: AsyncSession, room_id: int) -> list[m.ShareLink]:
    return await _rows(session, m.ShareLink, m.ShareLink.room_id, room_id)


async def get_link(session: AsyncSession, link_id: int) -> m.ShareLink:
    return await _get(session, m.ShareLink, link_id, "link")


async def add_segment(session: AsyncSession, host_id: int, data: SegmentIn) -> m.Segment:
    rules = data.rules.model_dump(exclude_defaults=True)
    return await _save(session, m.Segment(host_id=host_id, name=data.name.strip(), rules=rules))


async def segments_of(session: AsyncSession, host_id: int) -> list[m.Segment]:
    return await _rows(session, m.Segment, m.Segment.host_id, host_id)


async def get_segment(session: AsyncSession, segment_id: int) -> m.Segment:
    return await _get(session, m.Segment, segment_id, "segment")


async def delete_segment(session: AsyncSession, row: m.Segment) -> None:
    await _delete(session, row)


async def add_experiment(
    session: AsyncSession, host_id: int, data: ExperimentIn, *, any_host: bool = False
) -> m.Experiment:
    """A new experiment; its variants may aim only at the host's own products and coupons (the shop owner,
    ``any_host``, at anyone's)."""
    if not any_host:
        payloads = [variant.payload for variant in data.variants]
        await ownership.ensure_owned(
            session,
            host_id,
            product_ids=[p["product_id"] for p in payloads if _is_id(p.get("product_id"))],
            coupon_ids=[p["coupon_id"] for p in payloads if _is_id(p.get("coupon_id"))],
        )
    keys = [v.key for v in data.variants]
    if len(set(keys)) != len(keys):
        raise ValidationFailed(
            "variant keys must differ",
            code=AnalyticsCode.EXPERIMENT_DUPLICATE_VARIANT,
            fields={"variants": "duplicate key"},
        )
    row = m.Experiment(
        host_id=host_id,
        key=f"x{secrets.token_hex(6)}",
        name=data.name.strip(),
        subject=data.subject,
        room_id=data.room_id,
        variants=[v.model_dump() for v in data.variants],
        baseline_rate=data.baseline_rate,
        min_effect=data.min_effect,
        sample_size=plan(PlanQuery(**data.model_dump(include={"baseline_rate", "min_effect"}), variants=len(keys)))[
            "per_variant"
        ],
    )
    return await _save(session, row)


def plan(query: PlanQuery) -> dict[str, Any]:
    """The sample an experiment needs: visitors per variant for 80 % power at α = 5 % (split over the variants'
    comparisons with control)."""
    try:
        per_variant = stats.sample_size(query.baseline_rate, query.min_effect, comparisons=query.variants - 1)
    except (ValueError, ArithmeticError):  # no room left for the lift near 100 %, or a rate so near 0 it vanishes
        raise ValidationFailed(
            "no sample can find this lift from this baseline",
            code=AnalyticsCode.EXPERIMENT_PLAN_IMPOSSIBLE,
            fields={"baseline_rate": "too close to 0 or 1 for this min_effect", "min_effect": "cannot be measured"},
        ) from None
    return {
        "baseline_rate": query.baseline_rate,
        "min_effect": query.min_effect,
        "variants": query.variants,
        "alpha": stats.ALPHA,
        "power": stats.POWER,
        "per_variant": per_variant,
        "total": per_variant * query.variants,
    }


async def experiments_of(session: AsyncSession, host_id: int) -> list[m.Experiment]:
    return await _rows(session, m.Experiment, m.Experiment.host_id, host_id, newest_first=True)


async def get_experiment(session: AsyncSession, experiment_id: int) -> m.Experiment:
    return await _get(session, m.Experiment, experiment_id, "experiment")


async def stop_experiment(session: AsyncSession, row: m.Experiment) -> m.Experiment:
    if row.state != "running":
        raise Conflict("this experiment has already stopped", code=AnalyticsCode.EXPERIMENT_STOPPED)
    row.state, row.stopped_at = "stopped", utcnow()
    await session.commit()
    return row


async def audience_user_ids(session: AsyncSession, host_id: int, segment_id: int | None) -> list[int]:
    """The accounts in a saved segment, for a coupon or draw audience ("segment:<id>" in knowcast.ports).
    Only people who consented to analytics are identifiable, so only they are returned."""
    from knowcast.analytics import profiles

    if segment_id is None:
        raise ValidationFailed("name the segment: segment:<id>", code=ErrorCode.AUDIENCE_UNKNOWN)
    segment = await get_segment(session, segment_id)
    if segment.host_id != host_id:
        raise NotFound("no such segment", code=AnalyticsCode.SEGMENT_NOT_FOUND)
    found = profiles.members(await profiles.load(session, host_id), segment.rules)
    return sorted(p.user_id for p in found if p.user_id is not None)


def ensure_host(row: Any, host_id: int, is_owner: bool) -> None:
    """A host sees only their own costs, links, segments and experiments (the owner sees all)."""
    if not is_owner and row.host_id != host_id:
        raise NotFound("not found", code=AnalyticsCode.ANALYTICS_NOT_FOUND)


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID
