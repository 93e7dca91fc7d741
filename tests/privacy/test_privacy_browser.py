"""In a real Chromium: the Content-Security-Policy holds on every page (no violation is reported), and the
consent banner works, and stays away when the browser sends Global Privacy Control or Do Not Track."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.pages import sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser
MAX_PAGES = 40
SKIP = ("/signout", "/static/", "/media/", "/sandbox/", "/api/")  # actions and files, not pages


def watch_for_violations(page: Any) -> list[str]:
    """Everything the browser says about the policy: its console errors and the DOM's violation events."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: seen.append(f"page error: {e}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return seen


def owner_with_a_live_room(page: Any, server: LiveServer) -> None:
    create_user(server, "csp-owner@example.com", "owner", PASSWORD)
    sign_in(page, server, "csp-owner@example.com", consent=None)  # the banner is this file's subject
    page.click("[data-testid=nav-studio]")
    page.click("[data-testid=new-room]")
    page.fill("[data-testid=room-title-input]", "CSP 检查")
    page.fill("input[name=scheduled_at]", (datetime.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.click("[data-testid=room-form] button[type=submit]")
    page.wait_for_selector("[data-testid=console]")
    page.click("[data-testid=to-live]")
    page.wait_for_selector("[data-testid=console-state]:has-text('直播中')")


def same_site_pages(page: Any, server: LiveServer) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    paths = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" == server.url and not parts.path.startswith(SKIP):
            paths.append(parts.path)
    return paths


def test_no_page_violates_the_content_security_policy(live_server: LiveServer, new_context: Any) -> None:
    """Every page linked from the home page, the studio and the room, visited signed in as the owner (who sees
    the most): scripts run, and the browser reports no violation of the policy."""
    page = new_context().new_page()
    violations = watch_for_violations(page)
    owner_with_a_live_room(page, live_server)
    console_path = urlsplit(page.url).path
    to_visit, visited = ["/", console_path], []
    while to_visit and len(visited) < MAX_PAGES:
        path = to_visit.pop(0)
        if path in visited:
            continue
        visited.append(path)
        response = page.goto(live_server.url + path)
        assert response is not None and response.status < 500, path
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or ""), path
        page.wait_for_load_state("networkidle")
        to_visit += [p for p in same_site_pages(page, live_server) if p not in visited and p not in to_visit]
    assert len(visited) >= 10, visited  # the crawl really went through the site
    assert any(p.startswith("/rooms/") for p in visited) and any("studio" in p for p in visited), visited
    assert page.evaluate("document.documentElement.dataset.live") in (None, "joined", "offline")
    assert violations == [], violations


def test_the_consent_banner_and_browsers_that_already_said_no(live_server: LiveServer, browser: Any) -> None:
    fresh = browser.new_context(locale="zh-CN")
    page = fresh.new_page()
    page.goto(live_server.url + "/")
    page.click("[data-testid=consent-allow]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=consent-banner]").count() == 0
    page.reload()
    assert page.locator("[data-testid=consent-banner]").count() == 0
    assert {c["name"]: c["value"] for c in fresh.cookies()}["kc_consent"] == "analytics"
    fresh.close()
    for header in ({"Sec-GPC": "1"}, {"DNT": "1"}):
        context = browser.new_context(locale="zh-CN", extra_http_headers=header)
        page = context.new_page()
        page.goto(live_server.url + "/")
        assert page.locator("[data-testid=consent-banner]").count() == 0, header
        answer = page.evaluate(
            "fetch('/api/v1/privacy/consent').then(r => r.json())"
        )  # the API agrees: a standing no, and why
        assert answer["analytics"] is False and answer["signal"] in ("gpc", "dnt"), header
        context.close()
