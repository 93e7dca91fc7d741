"""In a real Chromium: a viewer watches on a phone (the room page's tracking module sends the view), and the
host's console shows the viewer on the live dashboard without a reload, its chart's legend in Chinese with a
24-hour clock; the review page draws its chart."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifacts, browser, live_server, new_context  # noqa: F401  (fixtures)
from tests.browser.pages import sign_in
from tests.conftest import PASSWORD
from tests.live_server import LiveServer, create_user

pytestmark = pytest.mark.browser


def test_the_console_dashboard_shows_a_viewer_live(live_server: LiveServer, new_context: Any, artifacts: Path) -> None:  # noqa: F811
    create_user(live_server, "analytics-host@example.com", "host", PASSWORD)
    host = new_context().new_page()
    errors: list[str] = []
    host.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(host, live_server, "analytics-host@example.com", consent="allow")
    host.goto(f"{live_server.url}/studio/rooms/new")
    host.fill("[data-testid=room-title-input]", "数据看板测试")
    host.fill("input[name=scheduled_at]", (datetime.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    host.click("[data-testid=room-form] button[type=submit]")
    host.wait_for_selector("[data-testid=console]")
    room_id = host.get_attribute("[data-testid=console]", "data-room-id")
    host.click("[data-testid=to-live]")
    host.wait_for_selector("[data-testid=console-state]:has-text('直播中')")
    host.click("[data-testid=tab-data]")
    host.wait_for_selector("[data-testid=analytics-live]")
    host.wait_for_selector("strong[data-kpi=uv]:text-is('0')")  # the first poll came back

    viewer = new_context(phone=True).new_page()
    posted: list[str] = []  # the page's events ride its live socket: none is posted while it is joined
    viewer.on("request", lambda r: posted.append(r.url) if r.method == "POST" and "/analytics/" in r.url else None)
    viewer.goto(f"{live_server.url}/rooms/{room_id}?utm_source=wechat")
    viewer.wait_for_selector("[data-testid=stage]")  # the banner may ask; tracking runs either way (pseudonymous)

    # the console polls; no reload: the viewer appears, with their channel
    host.wait_for_selector("strong[data-kpi=viewers_now]:text-is('1')")
    # a viewer is in UV once 1 s is watched: the page's first heartbeat goes 6 s after the view starts
    host.wait_for_selector("strong[data-kpi=uv]:text-is('1')", timeout=40_000)
    assert "wechat" in host.inner_text("[data-list=channels]")
    assert posted == []
    assert host.locator("[data-chart=timeline] canvas").count() >= 1  # uPlot drew
    # the chart's legend in the page's language and a 24-hour clock (uPlot's own are English, "2:05pm")
    legend = host.locator("[data-chart=timeline] .u-legend .u-series").first
    expect(legend.locator(".u-label")).to_have_text("时间")
    host.locator("[data-chart=timeline] .u-over").hover()
    moment = legend.locator(".u-value").inner_text()
    assert "月" in moment and re.search(r"\b\d{2}:\d{2}:\d{2}\b", moment), moment
    assert not re.search(r"[ap]\.?m\.?|上午|下午", moment, re.IGNORECASE), moment
    host.screenshot(path=str(artifacts / "console-dashboard.png"), full_page=True)

    host.goto(f"{live_server.url}/studio/rooms/{room_id}/review")
    host.wait_for_selector("[data-chart=report-timeline] canvas")
    assert host.inner_text("[data-metric=uv]") == "1"
    host.screenshot(path=str(artifacts / "review.png"), full_page=True)
    assert errors == []


def test_without_its_live_socket_the_page_posts_its_view(live_server: LiveServer, new_context: Any) -> None:  # noqa: F811
    """A socket that cannot join (a proxy without WebSocket, say): the view start waits 5 s for it, then is posted."""
    create_user(live_server, "analytics-host2@example.com", "host", PASSWORD)
    host = new_context().new_page()
    sign_in(host, live_server, "analytics-host2@example.com", consent="allow")
    room_id = host.evaluate(
        """async () => {
            const token = document.querySelector("meta[name=csrf-token]").content;
            const headers = {"Content-Type": "application/json", "X-CSRF-Token": token};
            const post = (url, body) => fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
            const at = new Date(Date.now() + 3600e3).toISOString();
            const made = await (await post("/api/v1/rooms", {title: "无socket", scheduled_at: at})).json();
            await post(`/api/v1/rooms/${made.id}/transitions`, {to: "live"});
            return made.id;
        }"""
    )
    viewer = new_context(phone=True).new_page()
    viewer.route_web_socket(re.compile(r"/live$"), lambda ws: ws.close())
    with viewer.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/api/v1/analytics/events"), timeout=20_000
    ) as sent:
        viewer.goto(f"{live_server.url}/rooms/{room_id}")
    body = sent.value.post_data_json
    assert [e["kind"] for e in body["events"]] == ["view_start"] and body["events"][0]["room_id"] == room_id
    assert sent.value.response().status == 202  # type: ignore[union-attr]
