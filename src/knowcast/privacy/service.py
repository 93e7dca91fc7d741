"""Consent changes, the personal-data export, and account deletion.

Each domain that stores something about a person offers ``export_personal_data(session, user)`` and, where it
has something to erase, ``erase_personal_data(session, user)`` (in its service or its own ``privacy`` module);
this module calls them all. What lives outside the database (the replays' timelines) is read with the app
context and erased after the deletion commits, as are the rooms on air. docs/privacy.md lists what each covers.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts import service as accounts
from knowcast.accounts.models import User
from knowcast.accounts.passwords import Passwords
from knowcast.bus import Event
from knowcast.catalog import privacy as catalog
from knowcast.commerce import privacy as commerce
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import InvalidCredentials
from knowcast.growth import privacy as growth_mail
from knowcast.growth import service as growth
from knowcast.integrations import privacy as integrations
from knowcast.interaction import privacy as interaction
from knowcast.media import privacy as media
from knowcast.privacy import audit
from knowcast.privacy.models import AuditEntry, ConsentRecord
from knowcast.privacy.records import Tables
from knowcast.rooms import service as rooms

log = logging.getLogger(__name__)

Exporter = Callable[[AsyncSession, User], Awaitable[Tables]]
Eraser = Callable[[AsyncSession, User], Awaitable[None]]
FileExporter = Callable[[AppContext, User], Awaitable[Tables]]  # personal data kept outside the database
Forgetter = Callable[[AppContext, int], Awaitable[None]]  # after the deletion commits: files, live rooms


async def export_privacy_data(session: AsyncSession, user: User) -> Tables:
    consents = await session.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user.id))
    actions = await session.scalars(
        select(AuditEntry).where(
            or_(
                AuditEntry.actor_id == user.id,
                (AuditEntry.target_type == "user") & (AuditEntry.target_id == str(user.id)),
            )
        )
    )
    return {
        "consent_records": [{"analytics": c.analytics, "source": c.source, "at": c.at.isoformat()} for c in consents],
        "audit_log": [
            {"at": a.at.isoformat(), "action": a.action, "target": f"{a.target_type}:{a.target_id}", "detail": a.detail}
            for a in actions
        ],
    }


async def erase_privacy_data(session: AsyncSession, user: User) -> None:
    await session.execute(delete(ConsentRecord).where(ConsentRecord.user_id == user.id))


EXPORTERS: tuple[Exporter, ...] = (
    accounts.export_personal_data,
    rooms.export_personal_data,
    export_privacy_data,
    growth.export_personal_data,
    growth_mail.export_personal_data,
    catalog.export_personal_data,
    commerce.export_personal_data,
    interaction.export_personal_data,
    integrations.export_personal_data,
    media.export_stage_invites,
)
FILE_EXPORTERS: tuple[FileExporter, ...] = (media.export_personal_data,)
# the account itself is anonymized last, after every other domain has let go of the person; analytics detaches
# the account when it hears user.deleted
ERASERS: tuple[Eraser, ...] = (
    erase_privacy_data,
    growth.erase_personal_data,
    catalog.erase_personal_data,
    commerce.erase_personal_data,
    interaction.erase_personal_data,
    integrations.erase_personal_data,
    media.erase_stage_invites,
    accounts.erase_personal_data,
)
FORGETTERS: tuple[Forgetter, ...] = (media.forget, interaction.forget_in_live_rooms, commerce.forget_in_live_rooms)


async def record_consent(
    session: AsyncSession, user: User | None, visitor_id: str, analytics: bool, source: str
) -> None:
    session.add(
        ConsentRecord(user_id=user.id if user else None, visitor_id=visitor_id, analytics=analytics, source=source)
    )
    await session.commit()


async def export_zip(session: AsyncSession, ctx: AppContext, user: User) -> bytes:
    """Everything stored about the person: one JSON file with all of it, and a CSV per table."""
    data: Tables = {}
    for exporter in (*EXPORTERS, *ctx.exporters):
        data.update(await exporter(session, user))
    for file_exporter in FILE_EXPORTERS:
        data.update(await file_exporter(ctx, user))
    audit.record(session, user.id, "privacy.exported", "user", user.id, tables=sorted(data))
    await session.commit()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        meta = {"exported_at": utcnow().isoformat(), "user_id": user.id}
        archive.writestr("knowcast-export.json", json.dumps({"meta": meta, **data}, ensure_ascii=False, indent=1))
        for name, rows in data.items():
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    columns = sorted({key for row in rows for key in row})
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v for k, v in row.items()}
        )
    return out.getvalue()


async def delete_account(session: AsyncSession, ctx: AppContext, user: User, password: str) -> None:
    """Erase or anonymize everything personal; orders and rooms stay for the books without the person."""
    if not ctx.runtime(Passwords).verify(user.password_hash, password):
        raise InvalidCredentials("the password is wrong", fields={"password": "wrong"})
    user_id = user.id
    for eraser in ERASERS:
        await eraser(session, user)
    audit.record(session, user_id, "account.deleted", "user", user_id, erased_by=[_name(e) for e in ERASERS])
    await session.commit()
    for forget in FORGETTERS:
        try:
            await forget(ctx, user_id)
        except Exception:  # the deletion stands; what is left over is logged for the operator to clear
            log.exception("forgetting a deleted account failed", extra={"step": _name(forget)})
    await ctx.bus.publish(Event("user.deleted", {"user_id": user_id}))
    # after the subscribers (analytics detaches the account) so that their writes are scrubbed too
    if not await ctx.db.checkpoint():
        log.warning("the database log still holds pages from before an erasure; it is cleared at the next checkpoint")


def _name(step: Callable[..., object]) -> str:
    """``commerce.privacy``: where a step lives, for the audit entry."""
    return step.__module__.removeprefix("knowcast.")
