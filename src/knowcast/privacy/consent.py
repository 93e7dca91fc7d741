"""What a visitor agreed to. Without a yes, only cookieless pseudonymous analytics happen.

Global Privacy Control (``Sec-GPC: 1``) and Do Not Track (``DNT: 1``) count as a standing no, and the banner is not
shown to those visitors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

COOKIE = "kc_consent"
GRANTED = "analytics"
DENIED = "essential"


@dataclass(frozen=True)
class ConsentState:
    analytics: bool
    decided: bool  # False: the banner should ask
    signal: str | None  # "gpc" or "dnt" when the browser said no for the visitor


def browser_signal(headers: Mapping[str, str]) -> str | None:
    if headers.get("sec-gpc", "").strip() == "1":
        return "gpc"
    if headers.get("dnt", "").strip() == "1":
        return "dnt"
    return None


def state(headers: Mapping[str, str], cookies: Mapping[str, str]) -> ConsentState:
    signal = browser_signal(headers)
    if signal:
        return ConsentState(analytics=False, decided=True, signal=signal)
    choice = cookies.get(COOKIE)
    if choice in (GRANTED, DENIED):
        return ConsentState(analytics=choice == GRANTED, decided=True, signal=None)
    return ConsentState(analytics=False, decided=False, signal=None)
