"""The studio pages for API tokens and webhooks: who sees them, the forms, secrets shown once, the delivery log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.context import AppContext
from knowcast.integrations.models import DeliveryStatus
from tests.integrations.conftest import deliveries, eventually
from tests.integrations.receiver import Receiver


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/studio/tokens", (303, 403, 403, 200, 200)), ("/studio/webhooks", (303, 403, 403, 403, 200))],
)
async def test_who_sees_the_pages(client: Any, make_user: Any, path: str, expected: tuple[int, ...]) -> None:
    callers = [client] + [(await make_user(r)).client for r in (Role.VIEWER, Role.MODERATOR, Role.HOST, Role.OWNER)]
    got = tuple([(await c.get(path, follow_redirects=False)).status_code for c in callers])
    assert got == expected


async def test_studio_links_to_the_pages(make_user: Any) -> None:
    owner, host = await make_user(Role.OWNER), await make_user(Role.HOST)
    owner_page = (await owner.client.get("/studio")).text
    host_page = (await host.client.get("/studio")).text
    assert 'href="/studio/tokens"' in owner_page and 'href="/studio/webhooks"' in owner_page
    assert 'href="/studio/tokens"' in host_page and 'href="/studio/webhooks"' not in host_page


async def test_create_show_once_and_revoke_a_token(make_user: Any, bearer: Any) -> None:
    host = await make_user(Role.HOST)
    page = await host.client.get("/studio/tokens", headers={"accept-language": "zh-CN"})
    assert "API 令牌" in page.text and 'value="orders:read"' not in page.text  # hosts cannot grant it
    created = await host.client.post(
        "/studio/tokens", data={"name": "OBS 脚本", "scopes": ["rooms:read", "rooms:write"], "expires": "30"}
    )
    assert created.status_code == 201
    token = re.search(r'value="(kct_[^"]+)"', created.text)
    assert token, created.text
    assert "OBS 脚本" in created.text and token.group(1)[:10] in created.text
    listed = await host.client.get("/studio/tokens")
    assert token.group(1) not in listed.text  # shown once
    assert (await bearer(token.group(1)).get("/api/v1/tokens/scopes")).status_code == 403  # needs a person
    [row_id] = re.findall(r'action="/studio/tokens/(\d+)/revoke"', listed.text)
    revoked = await host.client.post(f"/studio/tokens/{row_id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303
    after = await host.client.get(revoked.headers["location"])
    assert f'action="/studio/tokens/{row_id}/revoke"' not in after.text and "badge token-revoked" in after.text


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"name": "x"}, "request.invalid"),
        ({"name": "", "scopes": ["rooms:read"]}, "request.invalid"),
        ({"name": "x", "scopes": ["orders:read"]}, "token.scope_not_allowed"),
        ({"name": "x", "scopes": ["rooms:read"], "expires": "soon"}, "request.invalid"),
    ],
)
async def test_token_form_errors_show_on_the_page(make_user: Any, data: dict[str, Any], code: str) -> None:
    host = await make_user(Role.HOST)
    response = await host.client.post("/studio/tokens", data=data)
    assert response.status_code in (403, 422)
    assert f'data-code="{code}"' in response.text


async def test_owner_adds_an_endpoint_pings_it_and_reads_the_log(
    make_user: Any, receiver: Receiver, ctx: AppContext
) -> None:
    owner = await make_user(Role.OWNER)
    created = await owner.client.post(
        "/studio/webhooks", data={"url": receiver.url, "description": "CRM", "events": ["room.live", "order.paid"]}
    )
    assert created.status_code == 201
    assert re.search(r'value="whsec_[^"]+"', created.text)
    [endpoint_id] = re.findall(r'action="/studio/webhooks/(\d+)/ping"', created.text)
    shown = await owner.client.get(f"/studio/webhooks/{endpoint_id}")
    assert "whsec_" not in shown.text and "CRM" in shown.text
    pinged = await owner.client.post(f"/studio/webhooks/{endpoint_id}/ping", follow_redirects=False)
    assert pinged.status_code == 303

    async def delivered() -> bool:
        rows = await deliveries(ctx)
        return bool(rows) and rows[0].status is DeliveryStatus.SUCCEEDED

    await eventually(delivered, "the ping is delivered")
    log = await owner.client.get(f"/studio/webhooks/{endpoint_id}", headers={"accept-language": "en"})
    assert 'data-status="succeeded"' in log.text and "answered 200" in log.text and "webhook.ping" in log.text
    [delivery_id] = re.findall(r'action="/studio/webhooks/deliveries/(\d+)/redeliver"', log.text)
    again = await owner.client.post(f"/studio/webhooks/deliveries/{delivery_id}/redeliver", follow_redirects=False)
    assert again.status_code == 303
    await eventually(lambda: _requests(receiver, 2), "redelivered")
    failed_only = await owner.client.get(f"/studio/webhooks/{endpoint_id}?status=failed&before=abc")
    assert failed_only.status_code == 200 and 'data-status="succeeded"' not in failed_only.text


async def _requests(receiver: Receiver, n: int) -> bool:
    return len(receiver.requests) >= n


async def test_endpoint_forms_refuse_bad_input_with_codes(make_user: Any) -> None:
    owner = await make_user(Role.OWNER)
    bad_scheme = await owner.client.post("/studio/webhooks", data={"url": "ftp://x.example", "events": ["room.live"]})
    assert bad_scheme.status_code == 422 and 'data-code="webhook.url_scheme"' in bad_scheme.text
    assert 'value="ftp://x.example"' in bad_scheme.text  # what was typed stays
    no_events = await owner.client.post("/studio/webhooks", data={"url": "https://x.example/h"})
    assert no_events.status_code == 422 and 'data-code="request.invalid"' in no_events.text
    ok = await owner.client.post("/studio/webhooks", data={"url": "https://x.example/h", "events": ["room.ended"]})
    [endpoint_id] = re.findall(r'action="/studio/webhooks/(\d+)/ping"', ok.text)
    edit = await owner.client.post(f"/studio/webhooks/{endpoint_id}", data={"url": "nope", "events": ["room.ended"]})
    assert edit.status_code == 422 and 'data-code="webhook.url_scheme"' in edit.text
    paused = await owner.client.post(
        f"/studio/webhooks/{endpoint_id}", data={"url": "https://x.example/h2", "events": ["room.live"]}
    )
    assert paused.status_code == 303
    page = await owner.client.get(paused.headers["location"], headers={"accept-language": "zh-CN"})
    assert "已保存" in page.text and "https://x.example/h2" in page.text
    listing = await owner.client.get("/studio/webhooks", headers={"accept-language": "zh-CN"})
    assert "已暂停" in listing.text  # the active box was not ticked
    rolled = await owner.client.post(f"/studio/webhooks/{endpoint_id}/secret")
    assert re.search(r'value="whsec_[^"]+"', rolled.text)
    gone = await owner.client.post(f"/studio/webhooks/{endpoint_id}/delete", follow_redirects=False)
    assert gone.status_code == 303
    assert (await owner.client.get(f"/studio/webhooks/{endpoint_id}")).status_code == 404
