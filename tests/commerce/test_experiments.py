"""Commerce applies the host's experiments (issue 6 §8): a viewer's variant — assigned on the server by the
keyed hash of their visitor id — sets the price they see and pay, the value of a coupon they claim, and the
pitch and card on the sheet. The client never names a price."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.accounts.models import Role
from knowcast.analytics import models as m
from knowcast.analytics.experiments import assign
from knowcast.bus import Event
from knowcast.commerce.offers import Viewer, price_from
from knowcast.commerce.promotions import Coupon, CouponKind
from knowcast.context import AppContext
from knowcast.privacy import consent
from tests.commerce.conftest import Shop, new_room
from tests.conftest import SECRET, Member


async def _experiment(shop: Shop, subject: str, *payloads: dict[str, Any], room: bool = True) -> dict[str, Any]:
    variants = [{"key": key, "payload": payload} for key, payload in zip("ABCD", payloads, strict=False)]
    body: dict[str, Any] = {"name": f"{subject} test", "subject": subject, "variants": variants}
    if room:
        body["room_id"] = shop.room_id
    made = await shop.host.client.post("/api/v1/analytics/experiments", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def _viewers_in(make_user: Any, ctx: AppContext, experiment: dict[str, Any]) -> dict[str, Member]:
    """One consenting viewer per variant (their visitor id is their account: "u:<id>")."""
    async with ctx.db.session() as session:
        row = await session.get(m.Experiment, experiment["id"])
    assert row is not None
    found: dict[str, Member] = {}
    for _ in range(200):
        viewer = await make_user(Role.VIEWER)
        viewer.client.cookies.set(consent.COOKIE, consent.GRANTED)
        found.setdefault(assign(SECRET, row, f"u:{viewer.user.id}")["key"], viewer)
        if len(found) == len(row.variants):
            return found
    raise AssertionError("the hash never picked every variant")


def _seen_price(snapshot: dict[str, Any], product_id: int) -> int:
    return int(next(e["product"]["price"] for e in snapshot["shelf"] if e["product"]["id"] == product_id))


async def _buy(viewer: Member, body: dict[str, Any]) -> Any:
    return await viewer.client.post("/api/v1/orders", json=body)


async def test_a_viewer_in_variant_b_sees_and_pays_b_price_and_a_forged_price_is_ignored(
    shop: Shop, make_user: Any, ctx: AppContext, seen: list[Event]
) -> None:
    product = await shop.shelved(price=1990, stock=50)
    other = await shop.shelved(price=5000, stock=50, title="Other")
    experiment = await _experiment(shop, "price", {}, {"product_id": product["id"], "price": 990})
    viewers = await _viewers_in(make_user, ctx, experiment)
    for key, price in (("A", 1990), ("B", 990)):
        snapshot = (await viewers[key].client.get(f"/api/v1/rooms/{shop.room_id}/commerce")).json()
        assert _seen_price(snapshot, product["id"]) == price and _seen_price(snapshot, other["id"]) == 5000
        assert snapshot["variants"] == {experiment["key"]: key}
        shelf = (await viewers[key].client.get(f"/api/v1/rooms/{shop.room_id}/shelf")).json()
        assert _seen_price({"shelf": shelf}, product["id"]) == price

    forged_item = {"product_id": product["id"], "quantity": 2, "unit_price": 1, "price": 1}
    forged = {"items": [forged_item], "room_id": shop.room_id, "total": 2, "subtotal": 2, "variants": {"x": "y"}}
    for key, price in (("A", 1990), ("B", 990)):
        response = await _buy(viewers[key], forged)
        assert response.status_code == 201, response.text
        order = response.json()
        assert order["items"][0]["unit_price"] == price and order["total"] == 2 * price
    created = [e.data for e in seen if e.name == "order.created"]
    assert [(d["total"], d["variants"]) for d in created] == [
        (3980, {experiment["key"]: "A"}),
        (1980, {experiment["key"]: "B"}),
    ]
    # the experiment lives in the room: the same product bought outside it costs the catalog price
    outside = (await _buy(viewers["B"], {"items": [{"product_id": product["id"]}]})).json()
    assert outside["total"] == 1990
    # and an order cannot borrow another host's room (its experiments, its figures)
    stranger = await make_user(Role.HOST)
    elsewhere = await new_room(stranger)
    wrong = await _buy(viewers["B"], {"items": [{"product_id": product["id"]}], "room_id": elsewhere})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "order.wrong_room")
    missing = await _buy(viewers["B"], {"items": [{"product_id": product["id"]}], "room_id": 2**31 - 1})
    assert missing.json()["error"]["code"] == "order.wrong_room"
    absurd = await _buy(viewers["B"], {"items": [{"product_id": product["id"]}], "room_id": 10**12})
    assert (absurd.status_code, absurd.json()["error"]["code"]) == (422, "request.invalid")


async def test_a_relative_price_change_and_a_stopped_experiment(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    product = await shop.shelved(price=2000, stock=50)
    experiment = await _experiment(shop, "price", {}, {"price_change": -0.25}, room=False)
    viewers = await _viewers_in(make_user, ctx, experiment)
    order = (await _buy(viewers["B"], {"items": [{"product_id": product["id"]}], "room_id": shop.room_id})).json()
    assert order["total"] == 1500
    # (a buy while this order waits for payment would get it back: it is cancelled first)
    assert (await viewers["B"].client.post(f"/api/v1/orders/{order['id']}/cancel")).status_code == 200
    stopped = await shop.host.client.post(f"/api/v1/analytics/experiments/{experiment['id']}/stop")
    assert stopped.status_code == 200
    after = (await _buy(viewers["B"], {"items": [{"product_id": product["id"]}], "room_id": shop.room_id})).json()
    assert after["total"] == 2000


async def test_a_coupon_value_variant_is_what_the_claimer_gets_off(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    product = await shop.shelved(price=5000, stock=50)
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    coupon = {"code": "DROP", "kind": "fixed", "value": 1000, "ends_at": ends, "claim_required": True}
    coupon_id = (await shop.host.client.post("/api/v1/coupons", json=coupon)).json()["id"]
    experiment = await _experiment(shop, "coupon", {}, {"coupon_id": coupon_id, "value": 1500})
    viewers = await _viewers_in(make_user, ctx, experiment)
    drop = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/coupon-drops", json={"coupon_id": coupon_id, "quantity": 10}
    )
    for key, value in (("A", 1000), ("B", 1500)):
        snapshot = (await viewers[key].client.get(f"/api/v1/rooms/{shop.room_id}/commerce")).json()
        assert snapshot["drop"]["coupon"]["value"] == value
        claimed = await viewers[key].client.post(f"/api/v1/coupon-drops/{drop.json()['id']}/claim")
        assert claimed.json()["value"] == value
        assert [c["value"] for c in (await viewers[key].client.get("/api/v1/my/coupons")).json()] == [value]
        body = {"items": [{"product_id": product["id"]}], "room_id": shop.room_id, "coupon_code": "DROP"}
        order = (await _buy(viewers[key], body)).json()
        assert (order["discount"], order["total"]) == (value, 5000 - value)
    async with ctx.db.session() as session:
        row = await session.get(Coupon, coupon_id)
        assert row is not None and row.value == 1000  # the coupon itself never changed


async def test_pitch_and_card_variants_dress_the_shelf(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    product = await shop.shelved(price=1990, stock=50, title="理财课")
    card = {"product_id": product["id"], "title": "理财课（限时）", "badge": "爆款", "cover_url": "javascript:x"}
    cards = await _experiment(shop, "card", {}, card)
    pitch = await _experiment(shop, "pitch", {}, {"product_id": product["id"], "pitch": "十节课讲清预算"})
    viewers = await _viewers_in(make_user, ctx, cards)
    async with ctx.db.session() as session:
        row = await session.get(m.Experiment, pitch["id"])
    assert row is not None
    for key, viewer in viewers.items():
        (entry,) = (await viewer.client.get(f"/api/v1/rooms/{shop.room_id}/shelf")).json()
        dressed = key == "B"
        assert entry["product"]["title"] == ("理财课（限时）" if dressed else "理财课")
        assert entry["badge"] == ("爆款" if dressed else None)
        assert entry["product"]["cover_url"] == product["cover_url"]  # an unsafe cover is ignored
        pitched = assign(SECRET, row, f"u:{viewer.user.id}")["key"] == "B"
        assert entry["pitch"] == ("十节课讲清预算" if pitched else None)
        assert entry["product"]["price"] == 1990


def test_payloads_that_do_not_fit_give_the_control() -> None:
    from knowcast.analytics.assignment import Assigned

    assert price_from({"price": -1}, 1000) is None and price_from({"price": True}, 1000) is None
    assert price_from({"price_change": 9}, 1000) is None and price_from({"price_change": "x"}, 1000) is None
    assert price_from({"price": 10**12}, 1000) is None and price_from({"price_change": -0.5}, 999) == 500
    viewer = Viewer(
        (
            Assigned("x1", "price", "B", {"product_id": 7, "price": "cheap"}),
            Assigned("x2", "coupon", "B", {"value": 150}),
            Assigned("x3", "price", "B", {"product_id": 8, "price": 100}),
        )
    )
    assert viewer.price(7, 1990) == 1990 and viewer.price(8, 1990) == 100
    percent = Coupon(id=1, kind=CouponKind.PERCENT, value=10)
    fixed = Coupon(id=2, kind=CouponKind.FIXED, value=10)
    assert viewer.coupon_value(percent) is None  # 150 % off is no coupon
    found = viewer.coupon_value(fixed)
    assert found is not None and found[0] == 150
