"""The video plane's part of the personal-data export and of account deletion (privacy/service.py lists
both): the person's chat lines, and the lines about them ("X bought Y"), kept in the replays' timelines.

These live in files beside the recordings, not in the database, so they are read through the settings'
data folder, and erased only after the deletion has committed.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from knowcast.accounts.models import User
from knowcast.commerce.models import Order
from knowcast.context import AppContext
from knowcast.media.storage import MediaStore
from knowcast.media.timeline import Person, TimelineRecorder
from knowcast.privacy.records import Tables

log = logging.getLogger(__name__)


def _timeline(ctx: AppContext) -> TimelineRecorder:
    return TimelineRecorder(MediaStore.of_data_dir(ctx.settings.data_dir))


async def _person(ctx: AppContext, user_id: int) -> Person:
    """The account and its orders: "X bought Y" lines name the order, not the buyer's account."""
    async with ctx.db.session() as session:
        orders = await session.scalars(select(Order.id).where(Order.user_id == user_id))
        return Person(user_id, frozenset(orders))


async def export_personal_data(ctx: AppContext, user: User) -> Tables:
    lines = _timeline(ctx).about(await _person(ctx, user.id))
    return {
        "replay_chat": [
            {"room_id": room_id, "at": item.at.isoformat(), "kind": item.kind, "name": item.name, "text": item.text}
            for room_id, item in lines
        ]
    }


async def forget(ctx: AppContext, user_id: int) -> None:
    """The rewrite runs in the event loop without pausing, so this process's recorder cannot append to a file
    halfway through it. The orders stay (for the books), so their ids still find the "X bought Y" lines."""
    person = await _person(ctx, user_id)
    removed = _timeline(ctx).forget(person)
    log.info("replay lines of a deleted account removed", extra={"lines": removed})
