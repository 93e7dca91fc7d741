"""Security headers on every kind of answer: pages, JSON, errors and static files (issue 7, point 6).

The policy allows only the site's own scripts: no inline script, no eval, no other origin. tests/privacy/
test_privacy_browser.py checks in Chromium that no page breaks it.
"""

from __future__ import annotations

from typing import Any

import pytest


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/signin", 200),
        ("/api/v1/rooms", 200),
        ("/api/v1/rooms/999999", 404),
        ("/no/such/page", 404),
        ("/static/css/app.css", 200),
        ("/healthz", 200),
    ],
)
async def test_every_answer_carries_the_policy_and_the_headers(client: Any, path: str, status: int) -> None:
    response = await client.get(path)
    assert response.status_code == status
    headers = response.headers
    policy = directives(headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"] and policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'self'"] and policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"] and set(policy["connect-src"]) <= {"'self'", "ws:", "wss:"}
    assert not any("unsafe-eval" in source or "*" in source for sources in policy.values() for source in sources)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-frame-options"] == "SAMEORIGIN"
