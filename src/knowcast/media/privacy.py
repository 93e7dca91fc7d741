"""The video plane's part of the personal-data export and of account deletion (privacy/service.py lists
them): the invitations onto a room's stage (连麦) made out to the person, in the database; and the person's
chat lines, and the lines about them ("X bought Y"), kept in the replays' timelines.

The timelines live in files beside the recordings, not in the database, so they are read through the settings'
data folder, and erased only after the deletion has committed.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.commerce.models import Order
from knowcast.context import AppContext
from knowcast.media.models import GuestInvite
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


async def export_stage_invites(session: AsyncSession, user: User) -> Tables:
    """The invitations onto a stage made out to the person's account (the token itself is never stored)."""
    invites = await session.scalars(select(GuestInvite).where(GuestInvite.user_id == user.id).order_by(GuestInvite.id))
    return {
        "stage_invites": [
            {
                "room_id": invite.room_id,
                "name": invite.name,
                "created_at": invite.created_at.isoformat(),
                "expires_at": invite.expires_at.isoformat(),
                "used_at": invite.used_at.isoformat() if invite.used_at else None,
            }
            for invite in invites
        ]
    }


async def erase_stage_invites(session: AsyncSession, user: User) -> None:
    """Invitations are single-use tickets, not records the books need: the person's go with the account."""
    await session.execute(delete(GuestInvite).where(GuestInvite.user_id == user.id))


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
