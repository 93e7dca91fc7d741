"""Comparing secrets without leaking, through timing, how much of a guess was right."""

from __future__ import annotations

import hmac


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality for text from the outside world.

    ``hmac.compare_digest`` raises TypeError on non-ASCII ``str`` (a forged header or query string may hold any
    character), so both sides are compared as UTF-8 bytes.
    """
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))
