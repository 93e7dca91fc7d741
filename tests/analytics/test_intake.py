"""Browser intake: views, heartbeats, impressions, and forged events dropped and counted."""

from __future__ import annotations

from typing import Any

from tests.analytics.conftest import Browser, Stage


async def test_a_view_counts_as_one_viewer_and_one_view(stage: Stage, client_factory: Any) -> None:
    await stage.go_live()
    page = Browser(client_factory(), stage.room_id)
    assert (await page.send("view_start", utm_source="WeChat"))["accepted"] == 1
    live = await stage.live()
    assert (live["uv"], live["pv"], live["viewers_now"], live["peak"]) == (1, 1, 1, 1)
    assert live["channels"][0]["channel"] == "wechat"
    await stage.flush()
