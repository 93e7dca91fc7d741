"""Consent: the banner, the choice and its record, and browsers that already said no."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from knowcast.privacy import consent
from knowcast.privacy.models import ConsentRecord
from knowcast.privacy.visitors import VisitorIds


async def test_banner_shows_until_a_choice_is_made(client: Any, ctx: Any) -> None:
    assert 'data-testid="consent-banner"' in (await client.get("/")).text
    response = await client.post("/consent", data={"choice": "analytics", "next": "/"})
    assert response.status_code == 303
    assert f"{consent.COOKIE}=analytics" in response.headers["set-cookie"]
    assert 'data-testid="consent-banner"' not in (await client.get("/")).text
    async with ctx.db.session() as session:
        record = await session.scalar(select(ConsentRecord))
    assert record is not None and record.analytics and record.source == "banner"
    assert record.visitor_id.startswith("p:")


async def test_consent_changes_are_all_recorded(make_user: Any, ctx: Any) -> None:
    member = await make_user()
    await member.client.post("/api/v1/privacy/consent", json={"analytics": True})
    await member.client.post("/api/v1/privacy/consent", json={"analytics": False})
    assert (await member.client.get("/api/v1/privacy/consent")).json() == {
        "analytics": False,
        "decided": True,
        "signal": None,
    }
    async with ctx.db.session() as session:
        records = list(await session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
    assert [(r.user_id, r.analytics) for r in records] == [(member.user.id, True), (member.user.id, False)]


async def test_global_privacy_control_and_do_not_track_are_a_standing_no(client: Any) -> None:
    for header in ({"sec-gpc": "1"}, {"dnt": "1"}):
        page = await client.get("/", headers=header)
        assert 'data-testid="consent-banner"' not in page.text
        answer = await client.post("/api/v1/privacy/consent", json={"analytics": True}, headers=header)
        assert answer.json()["analytics"] is False and answer.json()["signal"] in ("gpc", "dnt")


async def test_visitor_ids_follow_metrics_md(ctx: Any) -> None:
    async with ctx.db.session() as session:
        a = await ctx.runtime(VisitorIds).visitor_id(session, None, False, "1.2.3.4", "phone")
        b = await ctx.runtime(VisitorIds).visitor_id(session, None, False, "1.2.3.4", "phone")
        c = await ctx.runtime(VisitorIds).visitor_id(session, None, False, "1.2.3.5", "phone")
        signed_in_no_consent = await ctx.runtime(VisitorIds).visitor_id(session, 7, False, "1.2.3.4", "phone")
        signed_in_consented = await ctx.runtime(VisitorIds).visitor_id(session, 7, True, "1.2.3.4", "phone")
    assert a == b != c
    assert "1.2.3.4" not in a
    assert signed_in_no_consent == a
    assert signed_in_consented == "u:7"
