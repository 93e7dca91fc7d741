"""Money as people read it: amounts are integers in minor units (fen) everywhere; this is the one place that
writes them out. The browser's twin is ``web/static/js/_format.js`` (``money``), tested to agree."""

from __future__ import annotations

import math

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "JPY": "¥", "GBP": "£", "HKD": "HK$"}
ZERO_DECIMAL = frozenset({"JPY"})  # currencies whose amounts are already whole units


def money(amount: float, currency: str = "CNY") -> str:
    """1990 CNY → ¥19.90, 123456 → ¥1,234.56, 500 JPY → ¥500, a refund −150 → -¥1.50, an unknown currency by
    its code (SGD 1.00). Averages that are not whole fen are rounded to the nearest fen, halves up."""
    symbol = SYMBOLS.get(currency, f"{currency} ")
    minor = math.floor(amount + 0.5)  # half up, as the browser's Math.round (Python's round() goes to even)
    sign = "-" if minor < 0 else ""
    if currency in ZERO_DECIMAL:
        return f"{sign}{symbol}{abs(minor):,}"
    return f"{sign}{symbol}{decimal(abs(minor), grouped=True)}"


def decimal(amount: int, *, grouped: bool = False) -> str:
    """Minor units as a plain two-decimal number, no symbol: 1990 → "19.90" (what payment providers and
    price inputs take); ``grouped`` adds thousands separators (1,234.56)."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d}" if grouped else f"{sign}{whole}.{cents:02d}"
