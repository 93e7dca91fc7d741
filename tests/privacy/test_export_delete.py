"""Export, deletion, the audit log, site bans, and personal data kept out of plaintext everywhere: the
database, the logs and analytics events."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from knowcast.accounts.models import Role, User
from knowcast.analytics.models import AnalyticsEvent
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.observability import JsonFormatter
from knowcast.privacy.models import AuditEntry
from tests.conftest import PASSWORD
from tests.privacy.stored import every_row, sqlite_files

EMAIL = "private.person@example.com"
PHONE = "13987654321"
REAL_NAME = "王小明"


async def signed_up(client: Any) -> dict[str, Any]:
    body = {"email": EMAIL, "password": PASSWORD, "display_name": "小明同学"}
    user = (await client.post("/api/v1/auth/signup", json=body)).json()["user"]
    await client.patch("/api/v1/auth/me", json={"real_name": REAL_NAME, "phone": PHONE})
    await client.post("/api/v1/privacy/consent", json={"analytics": True})
    return dict(user)


async def test_export_holds_everything_about_the_person(client: Any) -> None:
    await signed_up(client)
    response = await client.get("/api/v1/privacy/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    data = json.loads(archive.read("knowcast-export.json"))
    assert data["account"][0]["email"] == EMAIL
    assert data["account"][0]["phone"] == PHONE
    assert data["account"][0]["real_name"] == REAL_NAME
    assert data["sign_in_sessions"] and data["consent_records"][0]["analytics"] is True
    assert "account.csv" in archive.namelist() and PHONE in archive.read("account.csv").decode()


async def test_delete_erases_the_person_and_keeps_the_row(client: Any, client_factory: Any, ctx: Any) -> None:
    user = await signed_up(client)
    wrong = await client.request("DELETE", "/api/v1/auth/me", json={"password": "not mine"})
    assert wrong.status_code == 401
    assert (await client.request("DELETE", "/api/v1/auth/me", json={"password": PASSWORD})).status_code == 204
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    again = await client_factory().post("/api/v1/auth/signin", json={"email": EMAIL, "password": PASSWORD})
    assert again.status_code == 401
    async with ctx.db.session() as session:
        row = await session.get(User, user["id"])
        assert row is not None and row.deleted_at is not None
        assert EMAIL not in row.email and row.phone is None and row.real_name is None
        assert row.display_name == "已注销用户"
        actions = [a.action for a in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "account.deleted" in actions
    # the email is free again for a new account
    fresh = await client_factory().post(
        "/api/v1/auth/signup", json={"email": EMAIL, "password": PASSWORD, "display_name": "新的我"}
    )
    assert fresh.status_code == 201


async def visit_and_order(client: Any, make_user: Any) -> None:
    """What puts the person into analytics: a consented view of a room, a question, an order from it."""
    host = await make_user(Role.HOST)
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    room = (await host.client.post("/api/v1/rooms", json={"title": "隐私课", "scheduled_at": when})).json()
    product = (await host.client.post("/api/v1/products", json={"kind": "course", "title": "课", "price": 100})).json()
    await host.client.post(f"/api/v1/rooms/{room['id']}/shelf", json={"product_id": product["id"]})
    events = [{"kind": "view_start", "room_id": room["id"], "view_id": "privacy-view-1"}]
    assert (await client.post("/api/v1/analytics/events", json={"events": events})).status_code == 202
    asked = await client.post(f"/api/v1/rooms/{room['id']}/questions", json={"text": "有回放吗？"})
    assert asked.status_code == 201
    body = {"items": [{"product_id": product["id"]}], "room_id": room["id"]}
    assert (await client.post("/api/v1/orders", json=body)).status_code == 201


async def analytics_rows(ctx: Any) -> str:
    runtime = ctx.runtime(AnalyticsRuntime)
    await runtime.settle()
    while await runtime.flush():
        pass
    async with ctx.db.session() as session:
        rows = list(await session.scalars(select(AnalyticsEvent)))
    columns = [column.name for column in AnalyticsEvent.__table__.columns]
    return "\n".join(repr({c: getattr(r, c) for c in columns}) for r in rows)


async def test_nothing_personal_in_the_database_file_the_logs_or_analytics_events(
    client: Any, ctx: Any, make_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = await signed_up(client)
    await client.post("/api/v1/auth/signin", json={"email": EMAIL, "password": "wrong password"})
    await visit_and_order(client, make_user)
    await client.get("/api/v1/privacy/export")
    events = await analytics_rows(ctx)
    assert "view_start" in events and "order_created" in events and "question" in events  # they were written
    for secret in (EMAIL, PHONE, REAL_NAME, user["display_name"], "有回放吗"):
        assert secret not in events, secret  # counted, never described
    if ctx.db.dialect == "sqlite":
        stored = await sqlite_files(ctx)
    else:  # PostgreSQL's files are not ours to read: every row of every table as text instead
        stored = (await every_row(ctx)).encode()
    for secret in (EMAIL, PHONE, REAL_NAME):
        assert secret.encode() not in stored, secret
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    for secret in (EMAIL, PHONE, REAL_NAME, PASSWORD):
        assert secret not in logged, [line for line in logged.splitlines() if secret in line][:2]


async def test_owner_bans_a_user_and_every_session_ends(make_user: Any) -> None:
    owner, viewer = await make_user(Role.OWNER), await make_user()
    assert (await viewer.client.get("/api/v1/auth/me")).status_code == 200
    banned = await owner.client.post(f"/api/v1/users/{viewer.user.id}/disable")
    assert banned.status_code == 200
    assert (await viewer.client.get("/api/v1/auth/me")).status_code == 401
    self_ban = await owner.client.post(f"/api/v1/users/{owner.user.id}/disable")
    assert self_ban.json()["error"]["code"] == "account.self_disable"
    log = (await owner.client.get("/api/v1/audit")).json()
    assert log[0]["action"] == "user.disabled" and log[0]["actor_id"] == owner.user.id
    assert (await viewer.client.get("/api/v1/audit")).status_code == 401
    page = await owner.client.get("/studio/audit")
    assert "user.disabled" in page.text


async def test_role_changes_are_audited(make_user: Any) -> None:
    owner, viewer = await make_user(Role.OWNER), await make_user()
    await owner.client.patch(f"/api/v1/users/{viewer.user.id}/role", json={"role": "moderator"})
    entry = (await owner.client.get("/api/v1/audit", params={"action": "user.role_changed"})).json()[0]
    assert entry["detail"] == {"before": "viewer", "after": "moderator"}
    assert entry["target_id"] == str(viewer.user.id)


async def test_account_page_offers_export_and_deletion(make_user: Any) -> None:
    member = await make_user()
    page = (await member.client.get("/account")).text
    assert 'data-testid="export"' in page and 'data-testid="delete-form"' in page
    wrong = await member.client.post("/account/delete", data={"password": "nope"})
    assert wrong.status_code == 401
    done = await member.client.post("/account/delete", data={"password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/?deleted=1"


async def test_after_deletion_no_copy_is_left_in_the_database_its_wal_or_the_logs(
    client: Any, ctx: Any, make_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """#14 point 5: the nickname and the question text stayed readable in the SQLite -wal file after erasure.
    The files are read as they are on disk while the app runs (the engine is not disposed first, which would
    checkpoint the WAL and hide the bug)."""
    if ctx.db.dialect != "sqlite":
        pytest.skip("PostgreSQL's files are not ours to read; every_row covers it in the test above")
    caplog.set_level(logging.DEBUG)
    nickname, question = "独一无二的昵称", "这个问题只有我问过吗"
    body = {"email": EMAIL, "password": PASSWORD, "display_name": nickname}
    assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 201
    host = await make_user(Role.HOST)
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    room = (await host.client.post("/api/v1/rooms", json={"title": "隐私课", "scheduled_at": when})).json()
    asked = await client.post(f"/api/v1/rooms/{room['id']}/questions", json={"text": question})
    assert asked.status_code == 201, asked.text
    path = Path(ctx.settings.database_url.split(":///", 1)[1])
    wal = path.with_name(path.name + "-wal")

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))

    assert nickname.encode() in on_disk() and question.encode() in on_disk()  # the search can find them
    assert (await client.request("DELETE", "/api/v1/auth/me", json={"password": PASSWORD})).status_code == 204
    stored = on_disk()
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    for secret in (nickname, question, EMAIL):
        assert secret.encode() not in stored, secret
        assert secret not in logged, [line for line in logged.splitlines() if secret in line][:2]
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
