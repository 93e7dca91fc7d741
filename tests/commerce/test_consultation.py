"""A consultation is bought with a time slot and, if the buyer likes, a note of what they want to talk
about: the host sees the note beside the order, it is stored encrypted, exported with the person's data and
erased with their account."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from knowcast.accounts.models import Role
from knowcast.commerce import privacy as commerce_privacy
from knowcast.context import AppContext
from tests.commerce.conftest import Shop, pay

NOTE = "想聊聊基金定投怎么开始，预算每月两千"


async def _consultation(shop: Shop) -> tuple[dict[str, Any], int]:
    product = await shop.shelved(kind="consultation", title="一对一理财咨询", price=30000)
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    slot = await shop.host.client.post(f"/api/v1/products/{product['id']}/slots", json={"starts_at": when})
    assert slot.status_code == 201, slot.text
    return product, int(slot.json()["id"])


async def test_a_booking_carries_its_note_to_the_host_encrypted(
    shop: Shop, make_user: Any, ctx: AppContext, webhook_server: str
) -> None:
    product, slot_id = await _consultation(shop)
    buyer = await make_user(Role.VIEWER)
    item = {"product_id": product["id"], "slot_id": slot_id, "note": f"  {NOTE}  "}
    order = await buyer.client.post("/api/v1/orders", json={"items": [item], "room_id": shop.room_id})
    assert order.status_code == 201, order.text
    assert order.json()["items"][0]["note"] == NOTE
    await pay(buyer.client, order.json()["id"])

    seen_by_host = (await shop.host.client.get(f"/api/v1/rooms/{shop.room_id}/orders")).json()
    assert [i["note"] for o in seen_by_host for i in o["items"]] == [NOTE]
    async with ctx.db.session() as session:
        stored = await session.scalar(text("SELECT note FROM order_items WHERE note IS NOT NULL"))
    assert stored and NOTE not in stored and "定投" not in stored  # ciphertext only

    archive = await buyer.client.get("/api/v1/privacy/export")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
        exported = json.loads(files.read("knowcast-export.json"))
    assert [i["note"] for i in exported["order_items"]] == [NOTE]

    async with ctx.db.session() as session:
        await commerce_privacy.erase_personal_data(session, buyer.user)
        await session.commit()
        assert await session.scalar(text("SELECT count(*) FROM order_items WHERE note IS NOT NULL")) == 0
        assert await session.scalar(text("SELECT count(*) FROM order_items")) == 1  # the order stays for the books


async def test_bad_consultation_orders(shop: Shop, make_user: Any) -> None:
    product, slot_id = await _consultation(shop)
    buyer = await make_user(Role.VIEWER)

    async def order(**item: Any) -> Any:
        return await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"], **item}]})

    no_slot = await order()
    assert no_slot.status_code == 422 and no_slot.json()["error"]["code"] == "order.slot_required"
    note_without_slot = await order(note="hello")
    assert note_without_slot.status_code == 422
    too_long = await order(slot_id=slot_id, note="长" * 1001)
    assert too_long.status_code == 422
    assert (await order(slot_id=slot_id, note="   ")).json()["items"][0]["note"] is None  # blank is no note
    taken = await (await make_user(Role.VIEWER)).client.post(
        "/api/v1/orders", json={"items": [{"product_id": product["id"], "slot_id": slot_id}]}
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "order.slot_taken"
