"""API tokens and webhook endpoints are audited from their committed events."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role


async def test_token_and_webhook_changes_reach_the_audit_log(make_user: Any) -> None:
    owner = await make_user(Role.OWNER)
    token = await owner.client.post("/api/v1/tokens", json={"name": "ci", "scopes": ["rooms:read"]})
    assert token.status_code == 201, token.text
    hook = await owner.client.post(
        "/api/v1/webhooks", json={"url": "https://hooks.example.com/knowcast", "events": ["room.live"]}
    )
    assert hook.status_code == 201, hook.text
    log = (await owner.client.get("/api/v1/audit")).json()
    actions = {entry["action"]: entry for entry in log}
    assert actions["api_token.created"]["actor_id"] == owner.user.id
    assert actions["webhook_endpoint.created"]["actor_id"] == owner.user.id
    assert actions["webhook_endpoint.created"]["target_type"] == "webhook_endpoint"
