"""Migration 0401: an endpoint made before it keeps the secret its receiver knows, now stored encrypted.

Before 0401 a secret was HMAC(SECRET_KEY, salt). The database is built to revision 0400 and given such an
endpoint, then upgraded; the app's dispatcher adopts the secret at start, and a delivery still verifies with
it. A SQLite file of its own (like tests/db): the point is the upgrade path, not the backend.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from knowcast.app import create_app
from knowcast.db import migrate
from knowcast.db.engine import make_engine
from knowcast.integrations import signing, webhooks
from knowcast.integrations.dispatcher import wake
from knowcast.integrations.models import WebhookEndpoint
from knowcast.settings import load_settings
from tests.conftest import SECRET
from tests.integrations.conftest import eventually
from tests.integrations.receiver import Receiver

SALT = "a-salt-from-before-0401"


async def endpoint_from_before_0401(url: str, receiver_url: str) -> None:
    migrate.upgrade(url, "0400")
    engine = make_engine(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO webhook_endpoints (url, description, events, secret_salt, is_active, created_at, "
                "updated_at) VALUES (:url, '', :events, :salt, 1, :now, :now)"
            ),
            {"url": receiver_url, "events": json.dumps(["room.live"]), "salt": SALT, "now": now},
        )
    await engine.dispose()


async def test_an_old_endpoint_keeps_its_secret_stored_encrypted(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await endpoint_from_before_0401(url, receiver.url)
    migrate.upgrade(url)
    settings = load_settings(
        database_url=url, data_dir=tmp_path / "data", secret_key=SECRET, auto_migrate=False, log_json=False
    )
    app = create_app(settings)
    ctx = app.state.ctx
    known = signing.legacy_secret(SECRET, SALT)
    async with app.router.lifespan_context(app):

        async def adopted() -> bool:
            async with ctx.db.engine.connect() as conn:
                return (await conn.execute(text("SELECT secret FROM webhook_endpoints"))).scalar() is not None

        await eventually(adopted, "the dispatcher adopts the old secret at start")
        async with ctx.db.engine.connect() as conn:
            stored = (await conn.execute(text("SELECT secret, secret_salt FROM webhook_endpoints"))).one()
        assert stored.secret.startswith("kc1.") and known not in stored.secret and stored.secret_salt is None
        async with ctx.db.session() as session:
            endpoint = await session.get(WebhookEndpoint, 1)
            assert endpoint is not None and webhooks.secret_of(endpoint) == known
            await webhooks.ping(session, ctx, endpoint)
        wake(ctx)

        async def arrived() -> bool:
            return bool(receiver.requests)

        await eventually(arrived, "the ping arrives")
        request = receiver.requests[0]
        assert signing.verify(known, request.headers["knowcast-signature"], request.body, int(time.time()))
