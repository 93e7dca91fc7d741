"""Drops and draws for an audience only ("粉丝专享": the host's followers, or a saved segment), asked of the
audiences port (knowcast.ports), which growth and analytics fill."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.commerce.errors import CommerceCode
from knowcast.context import AppContext
from knowcast.errors import PermissionDenied


async def check_named(session: AsyncSession, ctx: AppContext, host_id: int, audience: str | None) -> None:
    """Refuse an audience that names nothing of this host's (an unknown kind, someone else's segment)."""
    if audience is not None:
        await ctx.audiences.members(session, host_id, audience)


async def ensure_member(
    session: AsyncSession, ctx: AppContext, host_id: int, audience: str | None, user_id: int, what: str
) -> None:
    """``what`` is "coupon" or "draw": the error code's domain."""
    if audience is not None and not await ctx.audiences.includes(session, host_id, audience, user_id):
        raise PermissionDenied(f"this {what} is for {audience} only", code=CommerceCode(f"{what}.not_in_audience"))
