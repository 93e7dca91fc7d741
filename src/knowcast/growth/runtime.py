"""Plugs growth into the app: the reminder worker and auto-advance (Components) and FAQ auto-replies (which
wrap the hub's chat handler, so this is installed after the interaction domain)."""

from __future__ import annotations

from dataclasses import dataclass

from knowcast.context import AppContext
from knowcast.growth.autoreply import AutoReplier
from knowcast.growth.autoshow import AutoShow
from knowcast.growth.worker import ReminderWorker


@dataclass
class GrowthRuntime:
    worker: ReminderWorker
    autoshow: AutoShow
    replier: AutoReplier


def install(ctx: AppContext) -> GrowthRuntime:
    return GrowthRuntime(
        worker=ReminderWorker(ctx).install(),
        autoshow=AutoShow(ctx).install(),
        replier=AutoReplier(ctx).install(),
    )
