"""Linking server-side events (which know an account) to the visitor who watched.

A signed-in viewer's views carry a *user key*: a keyed hash of the account id. It lets an order or a chat line
find the visitor id of the person's views (account id when they consented, else the daily pseudonymous id)
without the analytics tables ever holding the account id of someone who did not consent.
"""

from __future__ import annotations

import hashlib
import hmac


def user_key(secret: str, user_id: int) -> str:
    return hmac.new(secret.encode(), f"analytics-user:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def stand_in(key: str) -> str:
    """The visitor id of an account with no view this process knows of (never counted as a viewer)."""
    return "k:" + key[:30]
