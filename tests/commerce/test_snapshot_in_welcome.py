"""The room's commerce snapshot rides the live socket's fresh ``welcome`` (issue 16, point 2; docs/protocol.md):
what each viewer gets there is exactly what ``GET /api/v1/rooms/{id}/commerce`` answers them — their own part
included, never another viewer's — it changes with the next change (the same per-process copy as the route,
dropped by the events), and a room only the route can answer sends none (the page then asks the route)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import update

from knowcast.accounts.models import Role
from knowcast.commerce.promotions import CouponClaim
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.context import AppContext
from knowcast.realtime.hub import Hub
from tests.commerce.conftest import Shop
from tests.commerce.test_room_snapshot import _shop_with_everything
from tests.conftest import Member
from tests.realtime.harness import LiveApp, open_viewer, serve, token_of


async def _welcome_commerce(live: LiveApp, room_id: int, member: Member | None) -> Any:
    viewer = await open_viewer(live, room_id, token_of(member) if member else None, join={})
    try:
        assert viewer.welcome["type"] == "welcome" and viewer.welcome["resumed"] is False
        return viewer.welcome.get("commerce")
    finally:
        await viewer.close()


async def test_each_viewer_gets_in_the_welcome_what_the_route_answers_them(
    app: Any, shop: Shop, ctx: AppContext, make_user: Any, client: Any
) -> None:
    made = await _shop_with_everything(shop)
    viewers: list[Member] = [await make_user(Role.VIEWER) for _ in range(12)]
    lucky = viewers[5]
    assert (await lucky.client.post(f"/api/v1/coupon-drops/{made['drop_id']}/claim")).status_code == 200
    async with ctx.db.session() as session:  # a value of their own (as a coupon-value experiment fixes it)
        await session.execute(update(CouponClaim).where(CouponClaim.user_id == lucky.user.id).values(value=321))
        await session.commit()
    buyer = viewers[2]
    order = {"items": [{"product_id": made["product"]["id"], "quantity": 1}], "room_id": shop.room_id}
    assert (await buyer.client.post("/api/v1/orders", json=order)).status_code == 201  # pending: in their `mine`
    path = f"/api/v1/rooms/{shop.room_id}/commerce"
    await ctx.runtime(Hub).flush()
    async for live in serve(app):
        welcomed = await asyncio.gather(*(_welcome_commerce(live, shop.room_id, v) for v in viewers))
        anonymous = await _welcome_commerce(live, shop.room_id, None)
    for member, commerce in zip(viewers, welcomed, strict=True):
        assert commerce == (await member.client.get(path)).json()  # the route's answer to them, to the byte
    assert anonymous == (await client.get(path)).json() and "mine" not in anonymous
    values = [commerce["drop"]["coupon"]["value"] for commerce in welcomed]
    assert values[5] == 321 and values[:5] + values[6:] == [500] * 11  # nobody else's claim
    pending = [bool(commerce["mine"]["pending"]) for commerce in welcomed]
    assert pending == [n == 2 for n in range(12)], pending  # nobody else's order
    assert ctx.runtime(Hub).welcome_parts_sent["commerce"] >= 13


async def test_the_next_welcome_shows_a_change_at_once(app: Any, shop: Shop, ctx: AppContext) -> None:
    made = await _shop_with_everything(shop)
    async for live in serve(app):
        before = await _welcome_commerce(live, shop.room_id, None)
        other = next(e for e in before["shelf"] if not e["pinned"])["product"]["id"]
        await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/pin", json={"product_id": other})
        after = await _welcome_commerce(live, shop.room_id, None)
    assert [e["product"]["id"] for e in before["shelf"] if e["pinned"]] == [made["product"]["id"]]
    assert [e["product"]["id"] for e in after["shelf"] if e["pinned"]] == [other]


async def test_a_ticket_room_sends_no_snapshot_in_the_welcome(app: Any, make_user: Any) -> None:
    host: Member = await make_user(Role.HOST)
    body = {"title": "付费课", "scheduled_at": "2099-01-01T00:00:00Z", "access_mode": "ticket"}
    room_id = (await host.client.post("/api/v1/rooms", json=body)).json()["id"]
    async for live in serve(app):
        viewer = await open_viewer(live, room_id, token_of(host), join={})
        raw = json.dumps(viewer.welcome)
        await viewer.close()
    assert viewer.welcome["type"] == "welcome" and "commerce" not in viewer.welcome, raw[:200]


async def test_a_failing_own_part_costs_the_welcome_only_its_snapshot(
    app: Any, shop: Shop, ctx: AppContext, make_user: Any, monkeypatch: Any
) -> None:
    await _shop_with_everything(shop)
    viewer: Member = await make_user(Role.VIEWER)
    mine = ctx.runtime(CommerceRuntime).mine
    assert mine is not None

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(mine, "of", broken)
    async for live in serve(app):
        welcome = await open_viewer(live, shop.room_id, token_of(viewer), join={})
        anonymous = await _welcome_commerce(live, shop.room_id, None)
        await welcome.close()
    assert welcome.welcome["type"] == "welcome" and "commerce" not in welcome.welcome  # the page asks the route
    assert anonymous is not None  # nobody else's welcome is affected
