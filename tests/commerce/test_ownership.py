"""A host's coupons, experiments, run-of-show steps and draws may name only their own products and coupons
(#14 point 9): another host's are refused when the promotion is written, not when it runs."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from tests.commerce.conftest import Shop

ENDS = "2031-01-01T00:00:00+00:00"


async def theirs(make_user: Any) -> tuple[int, int]:
    """Another host's product and coupon."""
    other = await make_user(Role.HOST)
    product = await other.client.post("/api/v1/products", json={"kind": "item", "title": "别人的课", "price": 500})
    coupon = await other.client.post(
        "/api/v1/coupons", json={"code": "THEIRS", "kind": "fixed", "value": 100, "ends_at": ENDS}
    )
    assert product.status_code == coupon.status_code == 201, (product.text, coupon.text)
    return product.json()["id"], coupon.json()["id"]


def refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status and answer.json()["error"]["code"] == code, answer.text


async def test_a_coupon_for_another_hosts_product_is_refused(shop: Shop, make_user: Any) -> None:
    product_id, _ = await theirs(make_user)
    body = {"code": "STEAL", "kind": "fixed", "value": 100, "ends_at": ENDS, "product_id": product_id}
    refused(await shop.host.client.post("/api/v1/coupons", json=body), 403, "product.not_host")
    mine = await shop.product()
    body = {**body, "product_id": mine["id"]}
    assert (await shop.host.client.post("/api/v1/coupons", json=body)).status_code == 201


async def test_an_experiment_aimed_at_another_hosts_goods_is_refused(shop: Shop, make_user: Any) -> None:
    product_id, coupon_id = await theirs(make_user)
    mine = await shop.product()
    base = {"name": "定价测试", "subject": "price", "room_id": shop.room_id}
    for payload, status, code in (
        ({"product_id": product_id, "price": 100}, 403, "product.not_host"),
        ({"coupon_id": coupon_id, "value": 50}, 404, "coupon.not_found"),
    ):
        body = {**base, "variants": [{"key": "A", "payload": {}}, {"key": "B", "payload": payload}]}
        refused(await shop.host.client.post("/api/v1/analytics/experiments", json=body), status, code)
    body = {**base, "variants": [{"key": "A"}, {"key": "B", "payload": {"product_id": mine["id"], "price": 100}}]}
    answer = await shop.host.client.post("/api/v1/analytics/experiments", json=body)
    assert answer.status_code == 201, answer.text


async def test_run_of_show_steps_naming_another_hosts_goods_are_refused(shop: Shop, make_user: Any) -> None:
    product_id, coupon_id = await theirs(make_user)
    steps = f"/api/v1/rooms/{shop.room_id}/show/steps"
    cases = [
        ({"kind": "pin", "params": {"product_id": product_id}}, 403, "product.not_host"),
        ({"kind": "flash", "params": {"product_id": product_id, "price": 1, "stock": 1}}, 403, "product.not_host"),
        ({"kind": "coupon", "params": {"coupon_id": coupon_id, "quantity": 5}}, 404, "coupon.not_found"),
        (
            {
                "kind": "draw",
                "params": {"title": "抽奖", "condition": "watching", "winners": 1, "prize_coupon_id": coupon_id},
            },
            404,
            "coupon.not_found",
        ),
    ]
    for step, status, code in cases:
        refused(await shop.host.client.post(steps, json={"title": "一步", **step}), status, code)
    mine = await shop.shelved()
    made = await shop.host.client.post(
        steps, json={"title": "置顶", "kind": "pin", "params": {"product_id": mine["id"]}}
    )
    assert made.status_code == 201, made.text
    moved = await shop.host.client.put(
        f"{steps}/{made.json()['id']}", json={"title": "置顶", "kind": "pin", "params": {"product_id": product_id}}
    )
    refused(moved, 403, "product.not_host")


async def test_a_draw_with_another_hosts_prize_is_refused(shop: Shop, make_user: Any) -> None:
    product_id, coupon_id = await theirs(make_user)
    draws = f"/api/v1/rooms/{shop.room_id}/draws"
    base = {"title": "抽奖", "condition": "watching", "winners": 1}
    refused(await shop.host.client.post(draws, json={**base, "prize_product_id": product_id}), 403, "product.not_host")
    refused(await shop.host.client.post(draws, json={**base, "prize_coupon_id": coupon_id}), 404, "coupon.not_found")
