"""Browser fixtures: Debian's Chromium driven by Playwright (its own browser download does not work here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer, start_server
from tests.services import require_chromium

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped on purpose: Playwright's sync API marks its own event loop as running in this thread, which
    would break the asyncio tests that run after a session-long browser."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server process (SQLite, development mode, auto-migrating) per test module."""
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    """new_context(phone=False, locale="zh-CN") → a fresh browser context (its own cookies), closed afterwards."""
    contexts: list[Any] = []

    def make(phone: bool = False, locale: str = "zh-CN", **options: Any) -> Any:
        context = browser.new_context(locale=locale, **(PHONE if phone else {}), **options)
        context.set_default_timeout(15_000)
        # the consent banner is answered up front so it does not cover buttons; tests/privacy covers the banner
        context.add_cookies([{"name": "kc_consent", "value": "essential", "domain": "127.0.0.1", "path": "/"}])
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """A folder for screenshots of this test (kept under test-results/, which git ignores)."""
    folder = Path("test-results") / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the page screenshots go: KNOWCAST_SCREENSHOTS (e.g. docs/img, to refresh the README's pictures) or a
    folder under pytest's tmp."""
    wanted = os.environ.get("KNOWCAST_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
