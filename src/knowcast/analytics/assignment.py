"""The experiments port (knowcast.ports.Experiments) as analytics fills it: a viewer's variants in the
experiments running in a room, for the planes that apply them (commerce charges an experiment's price).
Read-only: it records no exposure (the page's ``/assignments`` call does) and uses the same keyed hash as
everything else here (experiments.assign), so the page and the server always agree.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.analytics import models as m
from knowcast.analytics.experiments import assign
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.context import AppContext
from knowcast.ports import Assigned


class AnalyticsExperiments:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def running(self, session: AsyncSession, host_id: int) -> list[m.Experiment]:
        """The host's running experiments: through the intake's short cache when analytics runs in this app
        (the one the page's assignments come from, so what the page shows and what the server applies agree)."""
        runtime = self.ctx.runtime_or_none(AnalyticsRuntime)
        intake = runtime.intake if runtime is not None else None
        if intake is not None:
            return await intake.running.of_host(session, host_id)
        query = select(m.Experiment).where(m.Experiment.host_id == host_id, m.Experiment.state == "running")
        return list(await session.scalars(query))

    async def any_running(self, session: AsyncSession, host_id: int) -> bool:
        return bool(await self.running(session, host_id))

    async def assigned(self, session: AsyncSession, host_id: int, room_id: int, visitor: str) -> list[Assigned]:
        """The visitor's variant in each experiment the host is running in this room (or in all their rooms)."""
        found = []
        for experiment in sorted(await self.running(session, host_id), key=lambda x: x.id):
            if experiment.room_id not in (None, room_id):
                continue
            variant = assign(self.ctx.settings.secret_key, experiment, visitor)
            payload = variant.get("payload")
            subject, key = experiment.subject, str(variant["key"])
            found.append(Assigned(experiment.key, subject, key, payload if isinstance(payload, dict) else {}))
        return found

    async def visitor_of(self, request: Request, user: User | None) -> str | None:
        """The visitor id the request counts as (the one its page was assigned under). In a session of its
        own: making the day's salt may roll back, which must not expire the caller's objects."""
        from knowcast.analytics.routes import visit_of

        async with self.ctx.db.session() as session:
            return (await visit_of(request, self.ctx, session, user.id if user else None)).visitor
