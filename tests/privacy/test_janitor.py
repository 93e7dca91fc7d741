"""The visitor salts behind cookieless ids are deleted once older than 48 hours, by a Component of every app."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import select

from knowcast.context import AppContext
from knowcast.privacy.janitor import PrivacyJanitor
from knowcast.privacy.models import VisitorSalt
from knowcast.privacy.visitors import VisitorIds, local_day


async def salts(ctx: AppContext, *ages: int) -> date:
    today = local_day(ctx.runtime(VisitorIds).zone)  # salts belong to the shop's day
    async with ctx.db.session() as session:
        for age in ages:
            session.add(VisitorSalt(day=today - timedelta(days=age), salt=f"salt-{age}"))
        await session.commit()
    return today


async def days_kept(ctx: AppContext) -> list[date]:
    async with ctx.db.session() as session:
        return sorted(await session.scalars(select(VisitorSalt.day)))


async def test_salts_older_than_two_days_are_deleted(ctx: AppContext) -> None:
    [janitor] = [c for c in ctx.components if isinstance(c, PrivacyJanitor)]
    await janitor.stop()  # its own hourly pass must not race the one this test makes
    today = await salts(ctx, 5, 3, 2, 1, 0)
    async with ctx.db.session() as session:
        before = await ctx.runtime(VisitorIds).pseudonymous(session, "203.0.113.9", "phone")
    assert await janitor.run_once() == 2
    assert await days_kept(ctx) == [today - timedelta(days=age) for age in (2, 1, 0)]
    async with ctx.db.session() as session:
        assert await ctx.runtime(VisitorIds).pseudonymous(session, "203.0.113.9", "phone") == before  # today's ids stay
    assert await janitor.run_once() == 0


async def test_the_janitor_runs_when_it_starts(ctx: AppContext) -> None:
    today = await salts(ctx, 9, 0)
    janitor = PrivacyJanitor(ctx)
    await janitor.start()
    try:
        for _ in range(200):
            if await days_kept(ctx) == [today]:
                break
            await asyncio.sleep(0.02)
        assert await days_kept(ctx) == [today]
    finally:
        await janitor.stop()
