"""R = A × P × V, and the exact log decomposition of a change between two streams (docs/metrics.md):
ln(R₂/R₁) = ln(A₂/A₁) + ln(P₂/P₁) + ln(V₂/V₁), each term reported with its share of the change."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Apv:
    uv: int
    buyers: int
    gmv: int

    @property
    def a(self) -> int:
        return self.uv

    @property
    def p(self) -> float | None:
        return self.buyers / self.uv if self.uv else None

    @property
    def v(self) -> float | None:
        return self.gmv / self.buyers if self.buyers else None

    def as_dict(self) -> dict[str, Any]:
        return {"A": self.a, "P": self.p, "V": self.v, "R": self.gmv, "buyers": self.buyers}


def decompose(before: Apv, after: Apv) -> dict[str, Any]:
    """Each factor's log change and share of ln(R₂/R₁). Undefined (None) when a factor is zero in either
    stream, and shares are None when revenue did not change (there is no change to share out)."""
    if not (before.gmv and after.gmv and before.buyers and after.buyers):
        return {"defined": False, "log_change": None, "terms": None, "shares": None}
    terms = {
        "A": math.log(after.a / before.a),
        "P": math.log(after.buyers / after.uv) - math.log(before.buyers / before.uv),
        "V": math.log(after.gmv / after.buyers) - math.log(before.gmv / before.buyers),
    }
    total = math.log(after.gmv / before.gmv)
    shares = {k: v / total for k, v in terms.items()} if abs(total) > 1e-12 else None
    return {"defined": True, "log_change": total, "terms": terms, "shares": shares, "ratio": after.gmv / before.gmv}
