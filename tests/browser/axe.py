"""axe-core (npm) injected into a page: the serious and critical accessibility violations it finds."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}));
}"""


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; an empty list is a pass."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed ({AXE}); run `make web`")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source())  # through the DevTools protocol: our CSP (script-src 'self') does not apply
    found: list[dict[str, Any]] = page.evaluate(RUN)
    return found
