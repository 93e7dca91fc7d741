"""The host's own analytics inputs: costs per stream and channel, share links, saved segments, experiments.
The only code besides the writer that changes analytics tables."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import models as m
from knowcast.analytics.channels import clean
from knowcast.analytics.schemas import CostIn, ExperimentIn, SegmentIn, ShareLinkIn
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, NotFound, ValidationFailed


async def add_cost(session: AsyncSession, host_id: int, room_id: int, data: CostIn, currency: str) -> m.Cost:
    channel = clean(data.channel)
    if data.category == "ads" and not channel:
        raise ValidationFailed("ad spend needs a channel", code="cost.channel_required", fields={"channel": "required"})
    row = m.Cost(
        host_id=host_id,
        room_id=room_id,
        category=data.category,
        channel=channel if data.category == "ads" else "",
        amount=data.amount,
        currency=data.currency or currency,
        note=data.note.strip(),
    )
    session.add(row)
    await session.commit()
    return row


async def costs_of(session: AsyncSession, room_id: int) -> list[m.Cost]:
    return list(await session.scalars(select(m.Cost).where(m.Cost.room_id == room_id).order_by(m.Cost.id)))


async def get_cost(session: AsyncSession, cost_id: int) -> m.Cost:
    row = await session.get(m.Cost, cost_id)
    if row is None:
        raise NotFound("no such cost", code="cost.not_found")
    return row


async def delete_cost(session: AsyncSession, row: m.Cost) -> None:
    await session.delete(row)
    await session.commit()


async def add_link(session: AsyncSession, host_id: int, room_id: int, data: ShareLinkIn) -> m.ShareLink:
    source = clean(data.source)
    if not source:
        raise ValidationFailed("name the channel", code="link.source_required", fields={"source": "required"})
    row = m.ShareLink(
        host_id=host_id, room_id=room_id, source=source, medium=clean(data.medium), campaign=clean(data.campaign)
    )
    session.add(row)
    await session.commit()
    return row


async def links_of(session: AsyncSession, room_id: int) -> list[m.ShareLink]:
    return list(
        await session.scalars(select(m.ShareLink).where(m.ShareLink.room_id == room_id).order_by(m.ShareLink.id))
    )


async def get_link(session: AsyncSession, link_id: int) -> m.ShareLink:
    row = await session.get(m.ShareLink, link_id)
    if row is None:
        raise NotFound("no such link", code="link.not_found")
    return row


async def add_segment(session: AsyncSession, host_id: int, data: SegmentIn) -> m.Segment:
    row = m.Segment(host_id=host_id, name=data.name.strip(), rules=data.rules.model_dump(exclude_defaults=True))
    session.add(row)
    await session.commit()
    return row


async def segments_of(session: AsyncSession, host_id: int) -> list[m.Segment]:
    return list(await session.scalars(select(m.Segment).where(m.Segment.host_id == host_id).order_by(m.Segment.id)))


async def get_segment(session: AsyncSession, segment_id: int) -> m.Segment:
    row = await session.get(m.Segment, segment_id)
    if row is None:
        raise NotFound("no such segment", code="segment.not_found")
    return row


async def delete_segment(session: AsyncSession, row: m.Segment) -> None:
    await session.delete(row)
    await session.commit()


async def add_experiment(session: AsyncSession, host_id: int, data: ExperimentIn) -> m.Experiment:
    keys = [v.key for v in data.variants]
    if len(set(keys)) != len(keys):
        raise ValidationFailed(
            "variant keys must differ", code="experiment.duplicate_variant", fields={"variants": "duplicate key"}
        )
    row = m.Experiment(
        host_id=host_id,
        key=f"x{secrets.token_hex(6)}",
        name=data.name.strip(),
        subject=data.subject,
        room_id=data.room_id,
        variants=[v.model_dump() for v in data.variants],
    )
    session.add(row)
    await session.commit()
    return row


async def experiments_of(session: AsyncSession, host_id: int) -> list[m.Experiment]:
    query = select(m.Experiment).where(m.Experiment.host_id == host_id).order_by(m.Experiment.id.desc())
    return list(await session.scalars(query))


async def get_experiment(session: AsyncSession, experiment_id: int) -> m.Experiment:
    row = await session.get(m.Experiment, experiment_id)
    if row is None:
        raise NotFound("no such experiment", code="experiment.not_found")
    return row


async def stop_experiment(session: AsyncSession, row: m.Experiment) -> m.Experiment:
    if row.state != "running":
        raise Conflict("this experiment has already stopped", code="experiment.stopped")
    row.state, row.stopped_at = "stopped", utcnow()
    await session.commit()
    return row


async def audience_user_ids(session: AsyncSession, host_id: int, segment_id: int) -> list[int]:
    """The accounts in a saved segment, for a coupon or draw audience (commerce calls this). Only people who
    consented to analytics are identifiable, so only they are returned."""
    from knowcast.analytics import profiles

    segment = await get_segment(session, segment_id)
    if segment.host_id != host_id:
        raise NotFound("no such segment", code="segment.not_found")
    found = profiles.members(await profiles.load(session, host_id), segment.rules)
    return sorted(p.user_id for p in found if p.user_id is not None)


def ensure_host(row: Any, host_id: int, is_owner: bool) -> None:
    """A host sees only their own costs, links, segments and experiments (the owner sees all)."""
    if not is_owner and row.host_id != host_id:
        raise NotFound("not found", code="analytics.not_found")
