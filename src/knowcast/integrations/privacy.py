"""Integrations' part of the personal-data export and of account deletion (privacy/service.py lists both):
the person's API tokens (never their secret part, which is not stored), and the webhook endpoints they made,
which stay the shop's but no longer name them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.integrations.models import ApiToken, WebhookEndpoint
from knowcast.privacy.records import Tables, rows, update_where


async def export_personal_data(session: AsyncSession, user: User) -> Tables:
    tokens = await session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    return {
        "api_tokens": rows(tokens, "name", "hint", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at")
    }


async def erase_personal_data(session: AsyncSession, user: User) -> None:
    """Does not commit: it runs inside the deletion's transaction."""
    await session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    await update_where(session, WebhookEndpoint, WebhookEndpoint.created_by == user.id, created_by=None)
