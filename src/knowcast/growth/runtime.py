"""Plugs growth into the app: the reminder worker and auto-advance (Components) and FAQ auto-replies (a
``chat.message`` subscriber)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.context import AppContext
from knowcast.growth import follows
from knowcast.growth.autoreply import AutoReplier
from knowcast.growth.autoshow import AutoShow
from knowcast.growth.worker import ReminderWorker


@dataclass
class GrowthRuntime:
    worker: ReminderWorker
    autoshow: AutoShow
    replier: AutoReplier


def install(ctx: AppContext) -> GrowthRuntime:
    ctx.audiences.register("followers", followers)
    runtime = GrowthRuntime(
        worker=ReminderWorker(ctx).install(),
        autoshow=AutoShow(ctx).install(),
        replier=AutoReplier(ctx).install(),
    )
    ctx.provide(runtime)
    return runtime


async def followers(session: AsyncSession, host_id: int, ref: int | None) -> list[int]:
    """The "followers" audience (knowcast.ports): the host's and the channel's followers."""
    return await follows.audience_user_ids(session, host_id)
