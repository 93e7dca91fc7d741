"""The house rules (README, "Where things are") that an import graph can hold.

The layering contracts live in pyproject.toml ([tool.importlinter]) and are checked by import-linter, a
maintained tool, rather than by hand: core imports no domain, no domain imports analytics (analytics learns
everything from bus events; what other domains need from it comes through knowcast.ports), services import no
web code. Running them here puts them in the suite, so CI runs them; ``lint-imports`` runs them by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import knowcast

if os.environ.get("CI") != "true":  # an old .venv: `make install` adds import-linter (CI always has it)
    pytest.importorskip("importlinter", reason="import-linter is a dev dependency: run make install")
import grimp  # import-linter's graph library
from importlinter.cli import lint_imports

ROOT = Path(knowcast.__file__).parents[2]
CONTEXT = "knowcast.context"


def test_the_import_contracts_are_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_import_circle_runs_through_the_context() -> None:
    """Everything may import the context; nothing it imports may import it back, even for type checking only
    (a circle held apart by ``TYPE_CHECKING`` blocks and imports inside functions is still a circle)."""
    graph = grimp.build_graph("knowcast", cache_dir=None)
    circles = {
        module: graph.find_shortest_chain(importer=module, imported=CONTEXT)
        for module in graph.find_modules_directly_imported_by(CONTEXT)
    }
    assert {module: chain for module, chain in circles.items() if chain} == {}


def test_the_contracts_are_not_vacuous() -> None:
    """Each contract's source modules exist: a renamed package must not make a contract pass by matching nothing."""
    graph = grimp.build_graph("knowcast", cache_dir=None)
    services = [m for m in graph.modules if m.startswith("knowcast.") and m.endswith(".service")]
    assert len(services) >= 7
    for module in ("knowcast.context", "knowcast.bus", "knowcast.ports", "knowcast.analytics"):
        assert module in graph.modules


def test_the_buyers_lookup_and_the_commerce_runtime_import_one_way() -> None:
    """The runtime builds the buyers' session lookups; buyers reach them through the context, not the runtime."""
    graph = grimp.build_graph("knowcast", cache_dir=None)
    assert graph.find_shortest_chain(importer="knowcast.commerce.buyers", imported="knowcast.commerce.runtime") is None


def test_each_domain_plugs_in_through_one_install_hook_in_the_declared_order() -> None:
    """Every domain package has a ``domain`` module with ``install(ctx, app)``; create_app installs each once,
    in ``app.DOMAINS``' order (knowcast/domains.py), and nothing else installs a domain."""
    from knowcast import app

    packages = sorted(p.parent.name for p in (ROOT / "src" / "knowcast").glob("*/routes.py"))
    assert len(packages) >= 11
    names = [domain.NAME for domain in app.DOMAINS]
    assert len(names) == len(set(names)) and set(packages) <= set(names)
    for domain in app.DOMAINS:
        assert domain.__name__ == f"knowcast.{domain.NAME}.domain"  # type: ignore[attr-defined]
        assert callable(domain.install)
    graph = grimp.build_graph("knowcast", cache_dir=None)
    hooks = {f"knowcast.{name}.domain" for name in names}
    for hook in hooks:
        assert graph.find_modules_that_directly_import(hook) == {"knowcast.app"}, hook


async def test_create_app_installs_the_domains_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fastapi import FastAPI

    from knowcast import app
    from knowcast.context import AppContext
    from knowcast.settings import load_settings

    called: list[str] = []
    for domain in app.DOMAINS:
        original = domain.install

        def spy(ctx: AppContext, fastapi: FastAPI, name: str = domain.NAME, install=original) -> None:  # type: ignore[no-untyped-def]
            called.append(name)
            install(ctx, fastapi)

        monkeypatch.setattr(domain, "install", spy)
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path)
    created = app.create_app(settings)
    assert called == [domain.NAME for domain in app.DOMAINS]
    await created.state.ctx.db.dispose()
