"""Export then delete, for a person who bought, chatted and won a draw (issue 7: the test that must exist).

Everything runs for real: the app is served over HTTP and WebSocket on loopback, the order is paid through the
sandbox's hosted checkout (its signed webhook comes back over HTTP), the chat line crosses a real socket and
enters the person into a keyword draw with a committed seed, and the host draws it. The room is a recorded
one: its media folder is written the way the ingest writes it (as tests/media does), so the replay's timeline
keeps the chat, without running ffmpeg here.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from knowcast.accounts.models import Role, User
from knowcast.analytics.models import AnalyticsEvent, AnalyticsView
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.commerce.models import Entitlement, Order, OrderItem
from knowcast.commerce.promotions import CouponClaim
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from knowcast.media.playlist import Variant
from knowcast.media.runtime import Media
from knowcast.privacy.models import AuditEntry
from tests.commerce.conftest import pay
from tests.conftest import PASSWORD, Client, Member
from tests.privacy.stored import every_row, sqlite_files
from tests.realtime.harness import LiveApp, Viewer, open_viewer, serve

EMAIL = "li.hua.private@example.com"
PHONE = "13800138000"
REAL_NAME = "李华华"
NICKNAME = "华华爱理财"
CHAT = "老师讲得真好，我要学习理财"  # carries the draw's keyword
QUESTION = "这门课的有效期是多久呢？"
RETRY_KEY = "buy-li-hua-0001"


@pytest.fixture
async def live(app: Any, ctx: AppContext) -> AsyncIterator[LiveApp]:
    async for server in serve(app):
        ctx.settings.payment_webhook_url = server.base  # the sandbox's webhook travels over real HTTP too
        yield server


async def signed_up_person(client: Client) -> dict[str, Any]:
    body = {"email": EMAIL, "password": PASSWORD, "display_name": NICKNAME}
    created = await client.post("/api/v1/auth/signup", json=body)
    assert created.status_code == 201, created.text
    assert (await client.patch("/api/v1/auth/me", json={"real_name": REAL_NAME, "phone": PHONE})).status_code == 200
    assert (await client.post("/api/v1/privacy/consent", json={"analytics": True})).json()["analytics"] is True
    return dict(created.json()["user"])


async def recorded_live_room(app: Any, host: Member) -> int:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    room = (await host.client.post("/api/v1/rooms", json={"title": "理财直播", "scheduled_at": when})).json()
    app.state.ctx.runtime(Media).store.write_variants(
        room["id"], [Variant("src", 1)]
    )  # what the ingest writes on publish
    went = await host.client.post(f"/api/v1/rooms/{room['id']}/transitions", json={"to": "live"})
    assert went.status_code == 200, went.text
    return int(room["id"])


async def product(host: Member, room_id: int, **fields: Any) -> int:
    made = await host.client.post("/api/v1/products", json={"price": 9900, **fields})
    assert made.status_code == 201, made.text
    shelved = await host.client.post(f"/api/v1/rooms/{room_id}/shelf", json={"product_id": made.json()["id"]})
    assert shelved.status_code == 201, shelved.text
    return int(made.json()["id"])


async def buy(client: Client, room_id: int, product_id: int) -> int:
    body = {"items": [{"product_id": product_id, "quantity": 1}], "room_id": room_id, "idempotency_key": RETRY_KEY}
    order = await client.post("/api/v1/orders", json=body)
    assert order.status_code == 201, order.text
    paid = await pay(client, order.json()["id"])
    assert paid["state"] in ("paid", "fulfilled")
    return int(paid["id"])


async def chat_into_draw(live: LiveApp, client: Client, host: Member, room_id: int, draw_id: int) -> None:
    """The chat line goes over a real socket; the keyword in it enters its author into the draw."""
    watcher = await open_viewer(live, room_id, join={})
    speaker = await open_viewer(live, room_id, str(client.cookies.get(SESSION_COOKIE)), join={})
    assert speaker.welcome["you"]["can_chat"] is True
    await speaker.send({"type": "chat", "text": CHAT})
    await watcher.chat_text(CHAT)
    for _ in range(100):  # the entry is written by the chat event's subscriber, right after the line goes out
        if (await host.client.get(f"/api/v1/draws/{draw_id}")).json()["entries"] == 1:
            break
        await asyncio.sleep(0.05)
    await speaker.close()
    await watcher.close()


async def interact(client: Client, host: Member, room_id: int) -> None:
    """A coupon claimed, a question, a poll vote and a follow: more of the person, in every domain."""
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    coupon = await host.client.post(
        "/api/v1/coupons", json={"code": "LIHUA10", "kind": "fixed", "value": 100, "ends_at": ends}
    )
    drop = await host.client.post(
        f"/api/v1/rooms/{room_id}/coupon-drops", json={"coupon_id": coupon.json()["id"], "quantity": 5}
    )
    assert (await client.post(f"/api/v1/coupon-drops/{drop.json()['id']}/claim")).status_code == 200
    assert (await client.post(f"/api/v1/rooms/{room_id}/questions", json={"text": QUESTION})).status_code == 201
    poll = await host.client.post(
        f"/api/v1/rooms/{room_id}/polls", json={"question": "下次讲什么？", "options": ["基金", "股票"]}
    )
    voted = await client.post(f"/api/v1/rooms/{room_id}/polls/{poll.json()['id']}/vote", json={"option": 1})
    assert voted.status_code == 200, voted.text
    assert (await client.put(f"/api/v1/hosts/{host.user.id}/follow")).status_code in (200, 201, 204)
    view = {"kind": "view_start", "room_id": room_id, "view_id": "view-li-hua-1"}
    assert (await client.post("/api/v1/analytics/events", json={"events": [view]})).status_code == 202


async def settled_analytics(ctx: AppContext) -> None:
    runtime = ctx.runtime(AnalyticsRuntime)
    await runtime.settle()
    await runtime.flush()
    while await runtime.flush():
        pass


async def count(ctx: AppContext, query: Any) -> int:
    async with ctx.db.session() as session:
        return int(await session.scalar(query) or 0)


def read_export(content: bytes) -> tuple[dict[str, Any], zipfile.ZipFile]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    return json.loads(archive.read("knowcast-export.json")), archive


def csv_rows(archive: zipfile.ZipFile, table: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(f"{table}.csv").decode())))


def check_export(data: dict[str, Any], archive: zipfile.ZipFile, order_id: int, drawn: dict[str, Any]) -> None:
    account = data["account"][0]
    assert (account["email"], account["phone"], account["real_name"]) == (EMAIL, PHONE, REAL_NAME)
    orders = {o["id"]: o for o in data["orders"]}
    assert orders[order_id]["state"] in ("paid", "fulfilled") and orders[order_id]["total"] == 9900
    assert {o["source"] for o in orders.values()} == {"buy", "draw"}  # the prize came as a free order
    assert {i["title"] for i in data["order_items"]} == {"理财课", "奖品电子书"}
    assert {e["title"] for e in data["entitlements"]} == {"理财课", "奖品电子书"}
    assert data["payments"][0]["state"] == "succeeded"
    [entry] = data["draw_entries"]
    assert entry["won"] is True and entry["draw_id"] == drawn["id"]
    assert hashlib.sha256(entry["seed"].encode()).hexdigest() == entry["seed_hash"] == drawn["seed_hash"]
    assert [line["text"] for line in data["replay_chat"] if line["kind"] == "chat"] == [CHAT]
    assert any(NICKNAME in line["text"] for line in data["replay_chat"] if line["kind"] == "system"), data[
        "replay_chat"
    ]
    assert [q["text"] for q in data["questions"]] == [QUESTION]
    assert data["poll_votes"][0]["answer"] == "股票"
    assert data["coupon_claims"][0]["code"] == "LIHUA10"
    assert data["follows"][0]["kind"] == "host"
    assert {"order_paid", "view_start"} <= {e["kind"] for e in data["analytics_events"]}
    assert data["consent_records"][0]["analytics"] is True
    # and the same as CSV, a file per table
    assert [row["text"] for row in csv_rows(archive, "replay_chat") if row["kind"] == "chat"] == [CHAT]
    assert csv_rows(archive, "draw_entries")[0]["won"] == "True"
    assert {row["title"] for row in csv_rows(archive, "order_items")} == {"理财课", "奖品电子书"}


async def test_export_then_delete_a_person_who_bought_chatted_and_won(
    app: Any, ctx: AppContext, live: LiveApp, client: Client, client_factory: Any, make_user: Any
) -> None:
    host: Member = await make_user(Role.HOST, name="主播老王")
    person = await signed_up_person(client)
    room_id = await recorded_live_room(app, host)
    course = await product(host, room_id, kind="course", title="理财课")
    prize = await product(host, room_id, kind="course", title="奖品电子书", price=1990)
    order_id = await buy(client, room_id, course)
    opened = await host.client.post(
        f"/api/v1/rooms/{room_id}/draws",
        json={"title": "抽奖", "condition": "keyword", "keyword": "学习", "prize_product_id": prize, "winners": 1},
    )
    assert opened.status_code == 201, opened.text
    await chat_into_draw(live, client, host, room_id, opened.json()["id"])
    await interact(client, host, room_id)
    drawn = (await host.client.post(f"/api/v1/draws/{opened.json()['id']}/draw")).json()
    assert drawn["winner_ids"] == [person["id"]]
    await settled_analytics(ctx)

    exported = await client.get("/api/v1/privacy/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    check_export(*read_export(exported.content), order_id, drawn)
    before = await every_row(ctx)
    assert NICKNAME in before and QUESTION in before  # the search sees plaintext columns...
    assert EMAIL not in before and PHONE not in before and REAL_NAME not in before  # ...and these are encrypted

    watcher = await open_viewer(live, room_id, join={})
    deleted = await client.request("DELETE", "/api/v1/auth/me", json={"password": PASSWORD})
    assert deleted.status_code == 204
    await watcher.until(lambda m: any(e["name"] == "chat.hidden" for e in m.get("events", [])))
    await settled_analytics(ctx)

    await check_the_person_is_gone(ctx, live, client_factory, room_id, person["id"])
    await check_the_books_are_kept(ctx, person["id"], order_id)
    await check_the_audit_log(ctx, person["id"])
    if ctx.db.dialect == "sqlite":  # the file itself, free pages and WAL included
        async with ctx.db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1  # ours, not the build's
        stored = await sqlite_files(ctx)
        for secret in (EMAIL, PHONE, REAL_NAME, NICKNAME, CHAT, QUESTION):
            assert secret.encode() not in stored, secret


async def check_the_person_is_gone(
    ctx: AppContext, live: LiveApp, client_factory: Any, room_id: int, user_id: int
) -> None:
    stored = await every_row(ctx)
    for secret in (EMAIL, PHONE, REAL_NAME, NICKNAME, CHAT, QUESTION, RETRY_KEY):
        assert secret not in stored, secret
    timelines = b"".join(p.read_bytes() for p in (ctx.settings.data_dir / "media").glob("*/timeline.jsonl"))
    assert CHAT.encode() not in timelines and NICKNAME.encode() not in timelines
    assert await count(ctx, select(func.count()).where(AnalyticsEvent.user_id == user_id)) == 0
    assert await count(ctx, select(func.count()).where(AnalyticsView.visitor == f"u:{user_id}")) == 0
    assert await count(ctx, select(func.count()).where(AnalyticsEvent.visitor == f"u:{user_id}")) == 0
    late: Viewer = await open_viewer(live, room_id, join={})
    lines = late.welcome["snapshot"]["chat"]
    assert all(line.get("user_id") != user_id and line.get("text") != CHAT for line in lines)
    assert all(NICKNAME not in (line.get("text") or "") for line in lines)  # "华华爱理财 买了…" is gone too
    assert all(NICKNAME not in json.dumps(event, ensure_ascii=False) for event in late.welcome["snapshot"]["events"])
    assert all(q["user_id"] != user_id for q in late.welcome["snapshot"]["questions"])
    await late.close()
    signin = await client_factory().post("/api/v1/auth/signin", json={"email": EMAIL, "password": PASSWORD})
    assert signin.status_code == 401 and signin.json()["error"]["code"] == "auth.invalid_credentials"


async def check_the_books_are_kept(ctx: AppContext, user_id: int, order_id: int) -> None:
    async with ctx.db.session() as session:
        orders = list(await session.scalars(select(Order).where(Order.user_id == user_id)))
        items = list(await session.scalars(select(OrderItem).where(OrderItem.order_id == order_id)))
        account = await session.get(User, user_id)
        owned = await session.scalar(select(func.count()).where(Entitlement.user_id == user_id))
        claims = await session.scalar(select(func.count()).where(CouponClaim.user_id == user_id))
    assert {o.source for o in orders} == {"buy", "draw"} and all(o.idempotency_key is None for o in orders)
    assert [(i.title, i.unit_price) for i in items] == [("理财课", 9900)]
    paid = next(o for o in orders if o.id == order_id)
    assert paid.total == 9900 and paid.paid_at is not None
    # the order's account is an empty shell: nothing in it, or anywhere, names the person
    assert account is not None and account.deleted_at is not None and not account.is_active
    assert (account.real_name, account.phone, account.display_name) == (None, None, "已注销用户")
    assert account.email == f"deleted-{user_id}@deleted.invalid"
    assert owned == 0 and claims == 0


async def check_the_audit_log(ctx: AppContext, user_id: int) -> None:
    async with ctx.db.session() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id))
            )
        )
    actions = {e.action: e for e in entries}
    assert {"privacy.exported", "account.deleted"} <= set(actions)
    assert "orders" in actions["privacy.exported"].detail["tables"]
    assert {"commerce.privacy", "interaction.privacy", "accounts.service"} <= set(
        actions["account.deleted"].detail["erased_by"]
    )
