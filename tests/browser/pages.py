"""Helpers for driving our pages in Chromium."""

from __future__ import annotations

from typing import Any

FETCH = """async ([method, path, body]) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const headers = {"Accept": "application/json", "X-CSRF-Token": token, "Content-Type": "application/json"};
  const r = await fetch(path, {method, headers, body: body === null ? undefined : JSON.stringify(body)});
  return {status: r.status, body: await r.json().catch(() => null)};
}"""


def page_api(page: Any, method: str, path: str, body: Any = None) -> Any:
    """A same-origin JSON call from the page with its CSRF token, as our own modules make them:
    ``{"status", "body"}``."""
    return page.evaluate(FETCH, [method, path, body])
