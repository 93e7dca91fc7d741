"""Coupon drops and draws for an audience only (粉丝专享): the host's followers (growth) or a saved segment
(analytics), asked through the audiences port — commerce imports neither."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.accounts.models import Role
from tests.commerce.conftest import Shop

CODES = itertools.count()


async def _drop(shop: Shop, audience: str | None) -> Any:
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"code": f"FANS{next(CODES)}", "kind": "fixed", "value": 500, "ends_at": ends, "claim_required": True}
    coupon = (await shop.host.client.post("/api/v1/coupons", json=body)).json()
    drop = {"coupon_id": coupon["id"], "quantity": 10, "audience": audience}
    return await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/coupon-drops", json=drop)


async def _draw(shop: Shop, audience: str) -> Any:
    prize = await shop.product(kind="course", title="粉丝课", price=9900)
    body = {"title": "粉丝抽奖", "condition": "watching", "prize_product_id": prize["id"], "winners": 1}
    return await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/draws", json={**body, "audience": audience})


async def test_a_followers_drop_is_claimed_by_followers_only(shop: Shop, make_user: Any) -> None:
    fan, stranger = await make_user(Role.VIEWER), await make_user(Role.VIEWER)
    await fan.client.put(f"/api/v1/hosts/{shop.host.user.id}/follow")
    drop = await _drop(shop, "followers")
    assert drop.status_code == 201, drop.text
    assert drop.json()["audience"] == "followers"
    claim = f"/api/v1/coupon-drops/{drop.json()['id']}/claim"
    assert (await fan.client.post(claim)).status_code == 200
    refused = await stranger.client.post(claim)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "coupon.not_in_audience"
    await stranger.client.put(f"/api/v1/hosts/{shop.host.user.id}/follow")  # following now lets them in
    assert (await stranger.client.post(claim)).status_code == 200


async def test_a_segment_draw_admits_only_the_segment(shop: Shop, make_user: Any) -> None:
    segment = await shop.host.client.post(
        "/api/v1/analytics/segments", json={"name": "大客户", "rules": {"min_orders": 5}}
    )
    assert segment.status_code == 201, segment.text
    opened = await _draw(shop, f"segment:{segment.json()['id']}")
    assert opened.status_code == 201, opened.text
    viewer = await make_user(Role.VIEWER)  # no orders: not in the segment
    refused = await viewer.client.post(f"/api/v1/draws/{opened.json()['id']}/entries", json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "draw.not_in_audience"


async def test_audiences_that_name_nothing_are_refused(shop: Shop, make_user: Any) -> None:
    other = await make_user(Role.HOST)
    theirs = await other.client.post("/api/v1/analytics/segments", json={"name": "theirs", "rules": {}})
    assert theirs.status_code == 201, theirs.text
    someone_elses = await _draw(shop, f"segment:{theirs.json()['id']}")
    assert someone_elses.status_code == 404 and someone_elses.json()["error"]["code"] == "segment.not_found"
    for bad in ("friends", "segment", "followers:x", "segment:0", "x" * 41):
        response = await _drop(shop, bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] in ("audience.unknown", "request.invalid"), bad
