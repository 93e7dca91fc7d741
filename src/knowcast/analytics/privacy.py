"""What analytics recorded about an account, for the personal-data export.

Analytics links an event to an account in two ways only: order events carry the buyer's ``user_id``, and a
signed-in visitor who consented is counted as ``u:<id>`` (privacy.visitors). Everything else is pseudonymous
and cannot be traced to the person, so it is not theirs to export. Heartbeats are left out: each watch
session (``analytics_views``) already sums them. Analytics hands this exporter to privacy through the context
(knowcast.ports: nothing imports analytics), and detaches the account on its own when it hears
``user.deleted``.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.analytics.models import AnalyticsEvent, AnalyticsView
from knowcast.analytics.records import HEARTBEAT
from knowcast.privacy.records import Tables, rows
from knowcast.privacy.visitors import consented_visitor


async def export_personal_data(session: AsyncSession, user: User) -> Tables:
    visitor = consented_visitor(user.id)
    events = await session.scalars(
        select(AnalyticsEvent)
        .where(or_(AnalyticsEvent.user_id == user.id, AnalyticsEvent.visitor == visitor))
        .where(AnalyticsEvent.kind != HEARTBEAT)
        .order_by(AnalyticsEvent.at, AnalyticsEvent.id)
    )
    views = await session.scalars(
        select(AnalyticsView).where(AnalyticsView.visitor == visitor).order_by(AnalyticsView.started_at)
    )
    return {
        "analytics_events": rows(
            events, "at", "kind", "room_id", "product_id", "order_id", "amount", "currency", "channel", "device"
        ),
        "analytics_views": rows(
            views, "room_id", "started_at", "ended_at", "watched_seconds", "channel", "medium", "campaign", "device"
        ),
    }
