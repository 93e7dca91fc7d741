"""Growth's personal data beyond what growth.service exports (follows, reminders, notifications): the mail
Knowcast queued or sent to the person. growth.service.erase_personal_data already drops and blanks it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.growth.models import MailJob
from knowcast.privacy.records import Tables, rows


async def export_personal_data(session: AsyncSession, user: User) -> Tables:
    mail = await session.scalars(select(MailJob).where(MailJob.user_id == user.id).order_by(MailJob.id))
    return {"mail": rows(mail, "subject", "body", "status", "attempts", "created_at", "sent_at")}
