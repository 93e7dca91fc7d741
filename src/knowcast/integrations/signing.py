"""Webhook signatures: ``Knowcast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

The timestamp is signed with the body, so a receiver that refuses old timestamps also refuses replays.
Each endpoint has its own random secret, kept encrypted with the personal-data keys (integrations.models).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from knowcast.timing import same_secret

HEADER = "Knowcast-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105  # a marker, not a secret
DEFAULT_TOLERANCE = 300


def new_secret() -> str:
    """256 random bits: owing nothing to the app's secret key, so changing that key changes no endpoint."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def legacy_secret(secret_key: str, salt: str) -> str:
    """How endpoints made before migration 0401 got their secret; only to adopt those as they were."""
    digest = hmac.new(secret_key.encode(), b"webhook-secret:" + salt.encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """What a receiver does (docs/integrations.md shows the same in a few lines); used by the tests."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return same_secret(parts.get("v1", ""), signature(secret, timestamp, body))
