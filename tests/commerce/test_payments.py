"""Payments: the sandbox's signed webhooks (forged, replayed, out of order), refunds revoking entitlements,
signed expiring download links, the library, and ticket rooms."""

from __future__ import annotations

import time
from typing import Any

from knowcast.accounts.models import Role
from knowcast.commerce import orders, payments
from knowcast.commerce.providers import sandbox
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.context import AppContext
from tests.commerce.conftest import Shop, checkout_path, pay, sandbox_action, wait_for_state

WEBHOOK = "/api/v1/payments/sandbox/webhook"


async def _pending_order(shop: Shop, buyer: Any, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    product = await shop.shelved(**fields)
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    return product, order


def _signed(
    ctx: AppContext, kind: sandbox.EventKind, reference: str, order: dict[str, Any], **at: int
) -> tuple[bytes, dict[str, str]]:
    body = sandbox.event_body(kind, reference, order["id"], order["total"])
    secret = ctx.runtime(CommerceRuntime).sandbox.secret
    return body.encode(), {sandbox.HEADER: sandbox.sign(secret, body, **at), "content-type": "application/json"}


async def _reference(client: Any, order_id: int) -> str:
    return (await checkout_path(client, order_id)).rsplit("/", 1)[1]


async def test_forged_stale_and_replayed_webhooks(shop: Shop, make_user: Any, ctx: AppContext, client: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    _, order = await _pending_order(shop, buyer, kind="course", price=500)
    reference = await _reference(buyer.client, order["id"])
    body, headers = _signed(ctx, sandbox.EventKind.SUCCEEDED, reference, order)
    forged = await client.post(WEBHOOK, content=body, headers={**headers, sandbox.HEADER: "t=1,v1=deadbeef"})
    assert (forged.status_code, forged.json()["error"]["code"]) == (403, "payment.bad_signature")
    unsigned = await client.post(WEBHOOK, content=body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 403
    tampered = body.replace(b'"amount":500', b'"amount":1')
    assert (await client.post(WEBHOOK, content=tampered, headers=headers)).status_code == 403
    old_body, old_headers = _signed(
        ctx, sandbox.EventKind.SUCCEEDED, reference, order, timestamp=int(time.time()) - 3600
    )
    stale = await client.post(WEBHOOK, content=old_body, headers=old_headers)
    assert stale.json()["error"]["code"] == "payment.stale_signature"
    assert (await buyer.client.get(f"/api/v1/orders/{order['id']}")).json()["state"] == "pending"
    first = await client.post(WEBHOOK, content=body, headers=headers)
    assert first.json() == {"result": "paid"}
    replay = await client.post(WEBHOOK, content=body, headers=headers)
    assert replay.json() == {"result": "duplicate"}
    assert (await buyer.client.get(f"/api/v1/orders/{order['id']}")).json()["state"] == "fulfilled"


async def test_events_out_of_order(shop: Shop, make_user: Any, ctx: AppContext, client: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    _, order = await _pending_order(shop, buyer, kind="course", price=500)
    reference = await _reference(buyer.client, order["id"])
    paid, paid_h = _signed(ctx, sandbox.EventKind.SUCCEEDED, reference, order)
    failed, failed_h = _signed(ctx, sandbox.EventKind.FAILED, reference, order)
    assert (await client.post(WEBHOOK, content=paid, headers=paid_h)).json()["result"] == "paid"
    assert (await client.post(WEBHOOK, content=failed, headers=failed_h)).json()["result"] == "stale"
    assert (await buyer.client.get(f"/api/v1/orders/{order['id']}")).json()["state"] == "fulfilled"
    # a refund that overtakes its payment still ends the order refunded
    _, second = await _pending_order(shop, buyer, kind="course", price=700, title="Second")
    ref2 = await _reference(buyer.client, second["id"])
    refund, refund_h = _signed(ctx, sandbox.EventKind.REFUNDED, ref2, second)
    late, late_h = _signed(ctx, sandbox.EventKind.SUCCEEDED, ref2, second)
    assert (await client.post(WEBHOOK, content=refund, headers=refund_h)).json()["result"] == "refunded"
    assert (await client.post(WEBHOOK, content=late, headers=late_h)).json()["result"] == "stale"
    assert (await buyer.client.get(f"/api/v1/orders/{second['id']}")).json()["state"] == "refunded"


async def test_money_for_an_expired_order_goes_back(shop: Shop, make_user: Any, ctx: AppContext, client: Any) -> None:
    from tests.commerce.test_orders import _expire_now

    buyer = await make_user(Role.VIEWER)
    _, order = await _pending_order(shop, buyer, kind="course", price=500)
    reference = await _reference(buyer.client, order["id"])
    await _expire_now(ctx, order["id"])
    async with ctx.db.session() as session:
        await orders.expire_due(session, ctx)
    body, headers = _signed(ctx, sandbox.EventKind.SUCCEEDED, reference, order)
    assert (await client.post(WEBHOOK, content=body, headers=headers)).json()["result"] == "refunded_closed_order"
    state = (await buyer.client.get(f"/api/v1/orders/{order['id']}")).json()
    assert state["state"] == "expired" and state["refund_due"] is True
    assert (await buyer.client.get("/api/v1/library")).json() == []


async def test_refund_revokes_course_and_download(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str, client: Any
) -> None:
    buyer = await make_user(Role.VIEWER)
    product, order = await _pending_order(shop, buyer, kind="file", price=990, title="E-book")
    upload = await shop.host.client.post(
        f"/api/v1/products/{product['id']}/files", files={"file": ("book.pdf", b"%PDF-1.4 hello", "application/pdf")}
    )
    assert upload.status_code == 201, upload.text
    assert (await buyer.client.get(f"/api/v1/library/files/{product['id']}")).json()["error"][
        "code"
    ] == "library.not_owned"
    await pay(buyer.client, order["id"])
    links = (await buyer.client.get(f"/api/v1/library/files/{product['id']}")).json()
    url = links[0]["url"]
    download = await client.get(url)
    assert download.status_code == 200 and download.content == b"%PDF-1.4 hello"
    as_json = {"accept": "application/json"}
    forged = await client.get(url.replace("s=", "s=0"), headers=as_json)
    assert forged.json()["error"]["code"] == "download.link_invalid"
    library = (await buyer.client.get("/api/v1/library")).json()
    assert [e["kind"] for e in library] == ["download"]
    page = await buyer.client.get("/library")
    assert "book.pdf" in page.text and "E-book" in page.text
    refunded = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")
    assert refunded.json()["state"] == "refunded"
    async with ctx.db.session() as session:
        from sqlalchemy import select

        from knowcast.privacy.models import AuditEntry

        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "order.refunded"))
    assert entry is not None and entry.actor_id == shop.host.user.id and entry.target_id == str(order["id"])
    assert (await client.get(url, headers=as_json)).json()["error"]["code"] == "download.not_owned"
    assert (await buyer.client.get("/api/v1/library")).json() == []
    again = await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")
    assert again.status_code == 409


async def test_ticket_rooms_admit_ticket_holders_only(shop: Shop, make_user: Any, webhook_server: str) -> None:
    from tests.commerce.conftest import new_room

    room_id = await new_room(shop.host, title="付费直播", access_mode="ticket")
    ticket = await shop.product(kind="ticket", title="门票", price=100, room_id=room_id)
    buyer = await make_user(Role.VIEWER)
    locked = await buyer.client.get(f"/rooms/{room_id}")
    assert 'data-testid="room-locked"' in locked.text
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": ticket["id"]}]})).json()
    await pay(buyer.client, order["id"])
    opened = await buyer.client.get(f"/rooms/{room_id}")
    assert 'data-testid="room-locked"' not in opened.text
    await shop.host.client.post(f"/api/v1/orders/{order['id']}/refund")
    assert 'data-testid="room-locked"' in (await buyer.client.get(f"/rooms/{room_id}")).text


async def test_members_rooms_admit_active_members(shop: Shop, make_user: Any, webhook_server: str) -> None:
    from tests.commerce.conftest import new_room

    room_id = await new_room(shop.host, title="会员直播", access_mode="members")
    membership = await shop.product(kind="membership", title="会员月卡", price=3000, membership_days=30)
    buyer = await make_user(Role.VIEWER)
    assert 'data-testid="room-locked"' in (await buyer.client.get(f"/rooms/{room_id}")).text
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": membership["id"]}]})).json()
    await pay(buyer.client, order["id"])
    assert 'data-testid="room-locked"' not in (await buyer.client.get(f"/rooms/{room_id}")).text
    library = (await buyer.client.get("/api/v1/library")).json()
    assert library[0]["kind"] == "membership" and library[0]["ends_at"]


async def test_sandbox_fail_then_pay_and_abandon(shop: Shop, make_user: Any, webhook_server: str) -> None:
    buyer = await make_user(Role.VIEWER)
    _, order = await _pending_order(shop, buyer, kind="course", price=500)
    path = await checkout_path(buyer.client, order["id"])
    failed = await sandbox_action(buyer.client, path, "fail")
    assert failed.status_code == 303
    await pay(buyer.client, order["id"])
    _, other = await _pending_order(shop, buyer, kind="course", price=600, title="Other")
    abandoned = await sandbox_action(buyer.client, await checkout_path(buyer.client, other["id"]), "abandon")
    assert abandoned.status_code == 303
    assert (await wait_for_state(buyer.client, other["id"], {"cancelled"}))["state"] == "cancelled"


async def test_sandbox_notifications_must_match_their_order(
    shop: Shop, make_user: Any, ctx: AppContext, client: Any
) -> None:
    """Correctly signed, yet about another amount, currency, merchant or order: refused (400), audited, and
    the order is untouched (#14 point 8: a signed notification for 1 fen once paid a 990-fen order)."""
    from sqlalchemy import select

    from knowcast.privacy.models import AuditEntry

    buyer = await make_user(Role.VIEWER)
    _, order = await _pending_order(shop, buyer, kind="course", price=990)
    reference = await _reference(buyer.client, order["id"])
    secret = ctx.runtime(CommerceRuntime).sandbox.secret
    wrong = {
        "amount": sandbox.event_body(sandbox.EventKind.SUCCEEDED, reference, order["id"], 1),
        "currency": sandbox.event_body(sandbox.EventKind.SUCCEEDED, reference, order["id"], 990, "USD"),
        "merchant": sandbox.event_body(sandbox.EventKind.SUCCEEDED, reference, order["id"], 990, merchant="evil"),
        "order": sandbox.event_body(sandbox.EventKind.SUCCEEDED, reference, order["id"] + 1000, 990),
    }
    for what, body in wrong.items():
        headers = {sandbox.HEADER: sandbox.sign(secret, body), "content-type": "application/json"}
        response = await client.post(WEBHOOK, content=body, headers=headers)
        assert (response.status_code, response.json()) == (400, {"result": f"refused_{what}"})
        again = await client.post(WEBHOOK, content=body, headers=headers)  # refused every time, never "duplicate"
        assert again.json() == {"result": f"refused_{what}"}
    assert (await buyer.client.get(f"/api/v1/orders/{order['id']}")).json()["state"] == "pending"
    async with ctx.db.session() as session:
        entries = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "payment.notification_refused"))
        )
    assert {e.detail["mismatch"] for e in entries} == set(wrong)
    assert {e.target_id for e in entries} == {str(order["id"])}
    body, headers = _signed(ctx, sandbox.EventKind.SUCCEEDED, reference, order)
    assert (await client.post(WEBHOOK, content=body, headers=headers)).json() == {"result": "paid"}


async def test_a_sandbox_payment_whose_webhook_never_arrived_is_recovered(
    shop: Shop, make_user: Any, ctx: AppContext
) -> None:
    """The buyer paid on the sandbox page, but its webhook could not be delivered (no server listening):
    the sweeper's query finds the payment and the order is paid."""
    ctx.settings.payment_webhook_url = "http://127.0.0.1:9"  # nothing listens there
    ctx.settings.payment_query_after_seconds = 0
    buyer = await make_user(Role.VIEWER)
    _, order = await _pending_order(shop, buyer, kind="course", price=500)
    path = await checkout_path(buyer.client, order["id"])
    assert (await sandbox_action(buyer.client, path, "pay")).status_code == 303
    async with ctx.db.session() as session:
        await payments.deliver_webhooks(session, ctx)
        await payments.recover_missed(session, ctx)
    assert (await wait_for_state(buyer.client, order["id"], {"fulfilled"}))["state"] == "fulfilled"


async def test_partial_refund_in_the_sandbox_keeps_the_order(shop: Shop, make_user: Any, webhook_server: str) -> None:
    buyer = await make_user(Role.VIEWER)
    _, order = await _pending_order(shop, buyer, kind="course", price=1000)
    await pay(buyer.client, order["id"])
    refund = f"/api/v1/orders/{order['id']}/refund"
    goodwill = await shop.host.client.post(refund, json={"amount": 200, "reason": "late start"})
    assert goodwill.json()["state"] == "fulfilled"
    assert [e["active"] for e in (await buyer.client.get("/api/v1/library")).json()] == [True]
    for bad in ({"amount": 0}, {"amount": True}, {"amount": "100"}, {"amount": 801}):
        assert (await shop.host.client.post(refund, json=bad)).status_code == 422, bad
    assert (await shop.host.client.post(refund, json={"amount": 800})).json()["state"] == "refunded"
    assert (await buyer.client.get("/api/v1/library")).json() == []
