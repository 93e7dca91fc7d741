"""The house rules (README, "Where things are") that a test can hold: nothing imports analytics but the composition
root, the model registry and web routes for its pages (analytics learns everything from bus events; what other
domains need from it comes through knowcast.ports)."""

from __future__ import annotations

import ast
from pathlib import Path

import knowcast

PACKAGE = Path(knowcast.__file__).parent
MAY_IMPORT_ANALYTICS = {
    "app.py",  # the composition root installs it
    "cli.py",  # the command line's root registers its commands (knowcast analytics ...)
    "context.py",  # names the runtime it holds, for type checking only
    "db/registry.py",  # every domain's models, for migrations
    "web/pages/analytics.py",  # its pages
    "growth/share_routes.py",  # share links are built by analytics' channel builder, for a route
}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_nothing_imports_analytics_but_its_pages_and_the_composition_root() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("analytics/") or relative in MAY_IMPORT_ANALYTICS:
            continue
        if any(m == "knowcast.analytics" or m.startswith("knowcast.analytics.") for m in imported_modules(path)):
            offenders.append(relative)
    assert offenders == []
