"""Privacy tests reuse the browser fixtures for their Chromium tests (test_privacy_browser.py)."""

from tests.browser.conftest import browser, live_server, new_context  # noqa: F401  (fixtures, reused)
