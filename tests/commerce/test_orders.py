"""Buy now: orders, reservations, idempotency, the state machine, and bad input."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from knowcast.commerce import orders
from knowcast.commerce.states import OrderState, can_transition
from knowcast.context import AppContext
from tests.commerce.conftest import Shop, pay


async def test_order_reserves_stock_and_pays_through_the_sandbox(
    shop: Shop, make_user: Any, webhook_server: str
) -> None:
    product = await shop.shelved(kind="item", stock=3, price=1990)
    buyer = await make_user(Role.VIEWER)
    response = await buyer.client.post(
        "/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": 2}], "room_id": shop.room_id}
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["state"], order["subtotal"], order["total"]) == ("pending", 3980, 3980)
    assert (await shop.host.client.get(f"/api/v1/products/{product['id']}")).json()["stock"] == 1
    paid = await pay(buyer.client, order["id"])
    assert paid["state"] == "paid"  # a plain item waits for the host to deliver it
    fulfilled = await shop.host.client.post(f"/api/v1/orders/{order['id']}/fulfil")
    assert fulfilled.json()["state"] == "fulfilled"


async def test_the_same_idempotency_key_gives_the_same_order(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=5)
    buyer = await make_user(Role.VIEWER)
    body = {"items": [{"product_id": product["id"]}], "idempotency_key": "tap-1234567"}
    first = (await buyer.client.post("/api/v1/orders", json=body)).json()
    second = (await buyer.client.post("/api/v1/orders", json=body)).json()
    assert first["id"] == second["id"]
    assert (await shop.host.client.get(f"/api/v1/products/{product['id']}")).json()["stock"] == 4


async def test_not_enough_stock_is_refused_with_a_code(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=1)
    buyer = await make_user(Role.VIEWER)
    response = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": 2}]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order.insufficient_stock"
    assert (await shop.host.client.get(f"/api/v1/products/{product['id']}")).json()["stock"] == 1


async def test_per_user_limit(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=10, per_user_limit=2)
    buyer = await make_user(Role.VIEWER)
    ok = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": 2}]})
    assert ok.status_code == 201
    again = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})
    assert again.json()["error"]["code"] == "order.limit_reached"


async def test_absurd_quantities_and_ids_are_refused_without_a_500(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=10)
    buyer = await make_user(Role.VIEWER)
    for quantity in (0, -1, 101, 10**30, "many", 1.5):
        response = await buyer.client.post(
            "/api/v1/orders", json={"items": [{"product_id": product["id"], "quantity": quantity}]}
        )
        assert response.status_code == 422, (quantity, response.text)
    for product_id in (0, -5, 2**70):
        response = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product_id}]})
        assert response.status_code == 422, (product_id, response.text)
    missing = await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": 999999}]})
    assert missing.status_code == 404
    assert (await buyer.client.post("/api/v1/orders", json={"items": []})).status_code == 422
    assert (await buyer.client.post("/api/v1/orders", content=b"{not json")).status_code == 422


async def test_someone_elses_order_is_not_found(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=10)
    alice, mallory = await make_user(Role.VIEWER), await make_user(Role.VIEWER)
    order = (await alice.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    for method, path in (
        ("GET", f"/api/v1/orders/{order['id']}"),
        ("POST", f"/api/v1/orders/{order['id']}/checkout"),
        ("POST", f"/api/v1/orders/{order['id']}/cancel"),
    ):
        response = await mallory.client.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "order.not_found"
    other_host = await make_user(Role.HOST)
    assert (await other_host.client.post(f"/api/v1/orders/{order['id']}/refund")).status_code == 404
    assert (await alice.client.get(f"/api/v1/orders/{order['id']}")).status_code == 200


async def test_cancel_returns_stock_and_a_cancelled_order_cannot_be_cancelled_again(shop: Shop, make_user: Any) -> None:
    product = await shop.shelved(stock=2)
    buyer = await make_user(Role.VIEWER)
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    assert (await buyer.client.post(f"/api/v1/orders/{order['id']}/cancel")).json()["state"] == "cancelled"
    again = await buyer.client.post(f"/api/v1/orders/{order['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order.illegal_transition"
    assert (await shop.host.client.get(f"/api/v1/products/{product['id']}")).json()["stock"] == 2


async def test_expired_orders_are_swept_and_their_stock_returns(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    product = await shop.shelved(stock=1)
    buyer = await make_user(Role.VIEWER)
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    await _expire_now(ctx, order["id"])
    async with ctx.db.session() as session:
        assert await orders.expire_due(session, ctx) == 1
        assert await orders.expire_due(session, ctx) == 0
    assert (await buyer.client.get(f"/api/v1/orders/{order['id']}")).json()["state"] == "expired"
    assert (await shop.host.client.get(f"/api/v1/products/{product['id']}")).json()["stock"] == 1


async def test_paying_an_expired_order_is_refused(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str
) -> None:
    from tests.commerce.conftest import checkout_path, sandbox_action

    product = await shop.shelved(stock=1)
    buyer = await make_user(Role.VIEWER)
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    path = await checkout_path(buyer.client, order["id"])
    await _expire_now(ctx, order["id"])
    refused = await sandbox_action(buyer.client, path, "pay")
    assert refused.status_code == 409
    assert 'data-code="order.expired"' in refused.text
    checkout = await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout")
    assert checkout.json()["error"]["code"] == "order.expired"


def test_the_state_machine_refuses_illegal_moves() -> None:
    assert can_transition(OrderState.PENDING, OrderState.PAID)
    assert can_transition(OrderState.PAID, OrderState.REFUNDED)
    assert not can_transition(OrderState.EXPIRED, OrderState.PAID)
    assert not can_transition(OrderState.REFUNDED, OrderState.PAID)
    assert not can_transition(OrderState.PENDING, OrderState.FULFILLED)
    assert not can_transition(OrderState.CANCELLED, OrderState.PENDING)


async def _expire_now(ctx: AppContext, order_id: int) -> None:
    from datetime import timedelta

    from knowcast.db.types import utcnow

    async with ctx.db.session() as session:
        order = await orders.get_order(session, order_id)
        order.reserved_until = utcnow() - timedelta(seconds=1)
        await session.commit()
