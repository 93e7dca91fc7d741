"""Analytics events on the live socket (``track`` frames): counted as the HTTP intake counts them, from the same
visitor, refused for the same reasons, and never about another room (analytics/socket_intake.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from knowcast.accounts.models import Role
from knowcast.analytics import models as m
from tests.analytics.conftest import Browser, Stage
from tests.realtime.harness import LiveApp, Viewer, open_viewer, serve, token_of

AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile"


@pytest.fixture
async def live(app: Any) -> AsyncIterator[LiveApp]:
    async for server in serve(app):
        yield server


async def track(viewer: Viewer, *events: dict[str, Any]) -> dict[str, Any]:
    """A track frame that asks for the answer (``ack``) even when every event is accepted."""
    await viewer.send({"type": "track", "events": list(events), "ack": True})
    return await viewer.until(lambda m: m.get("type") in ("tracked", "error"))


async def test_a_view_started_on_the_socket_counts_like_one_posted(stage: Stage, live: LiveApp, make_user: Any) -> None:
    await stage.go_live()
    fan = await make_user(Role.VIEWER)
    cookie = f"kc_session={token_of(fan)}; kc_consent=analytics"
    signed_in = await open_viewer(live, stage.room_id, join={}, Cookie=cookie, **{"User-Agent": AGENT})
    anonymous = await open_viewer(live, stage.room_id, join={}, **{"User-Agent": AGENT})
    views = {}
    for name, viewer in (("fan", signed_in), ("anon", anonymous)):
        views[name] = secrets.token_urlsafe(12)
        start = {"kind": "view_start", "room_id": stage.room_id, "view_id": views[name], "utm_source": "WeChat"}
        assert await track(viewer, start) == {"type": "tracked", "accepted": 1, "rejected": 0, "reasons": {}}
    board = await stage.live()
    assert (board["uv"], board["pv"], board["viewers_now"]) == (0, 2, 2)  # 0-second views are no viewers yet
    for view_id in views.values():
        stage.backdate(Browser(fan.client, stage.room_id, view_id=view_id), 15)
    for name, viewer in (("fan", signed_in), ("anon", anonymous)):
        beat = {"kind": "heartbeat", "room_id": stage.room_id, "view_id": views[name], "watched_ms": 15000}
        assert (await track(viewer, beat))["accepted"] == 1
    board = await stage.live()
    assert (board["uv"], board["pv"], board["channels"][0]["channel"]) == (2, 2, "wechat")
    await stage.flush()
    async with stage.ctx.db.session() as session:
        starts = list(
            await session.scalars(
                select(m.AnalyticsEvent).where(
                    m.AnalyticsEvent.room_id == stage.room_id, m.AnalyticsEvent.kind == "view_start"
                )
            )
        )
    visitors = sorted(row.visitor for row in starts)
    assert visitors[1] == f"u:{fan.user.id}" and visitors[0].startswith("p:")  # the server's ids, as over HTTP
    assert {row.device for row in starts} == {"mobile"}
    await signed_in.close()
    await anonymous.close()


async def test_the_socket_and_the_http_intake_see_the_same_visitor(
    stage: Stage, live: LiveApp, client_factory: Any
) -> None:
    """A view started on the socket goes on by POST (the page falls back when its socket drops): same visitor."""
    await stage.go_live()
    viewer = await open_viewer(live, stage.room_id, join={}, **{"User-Agent": AGENT})
    page = Browser(client_factory(), stage.room_id, agent=AGENT)
    start = {"kind": "view_start", "room_id": stage.room_id, "view_id": page.view_id}
    assert (await track(viewer, start))["accepted"] == 1
    stage.backdate(page, 15)
    assert await page.send("heartbeat", watched_ms=15000) == {"accepted": 1, "rejected": 0, "reasons": {}}
    stranger = await open_viewer(live, stage.room_id, join={}, **{"User-Agent": "another phone"})
    beat = {"kind": "heartbeat", "room_id": stage.room_id, "view_id": page.view_id}
    assert (await track(stranger, beat))["reasons"] == {"sequence.foreign_view": 1}
    await viewer.close()
    await stranger.close()


async def test_bad_track_frames_get_clear_errors_and_other_rooms_are_refused(stage: Stage, live: LiveApp) -> None:
    await stage.go_live()
    viewer = await open_viewer(live, stage.room_id, join={})
    view = secrets.token_urlsafe(12)
    assert (await track(viewer))["code"] == "protocol.malformed"  # no events
    await viewer.send({"type": "track", "events": "view_start"})
    assert (await viewer.until(lambda m: m.get("type") == "error"))["code"] == "protocol.malformed"
    await viewer.send({"type": "track", "events": [1, 2]})
    assert (await viewer.until(lambda m: m.get("type") == "error"))["code"] == "protocol.malformed"
    wrong = await track(viewer, {"kind": "view_start", "room_id": "one", "view_id": view})
    assert wrong["code"] == "request.invalid" and "events.0.room_id" in wrong["fields"]
    other = {"kind": "view_start", "room_id": stage.room_id + 1, "view_id": view}
    forged = {"kind": "order_paid", "room_id": stage.room_id, "view_id": view}
    answer = await track(viewer, other, forged)
    assert answer == {
        "type": "tracked",
        "accepted": 0,
        "rejected": 2,
        "reasons": {"room.other": 1, "kind.forbidden": 1},
    }
    start = {"kind": "view_start", "room_id": stage.room_id, "view_id": view}
    assert (await track(viewer, start))["accepted"] == 1  # the socket is still there after each refusal
    board = await stage.live()
    assert (board["pv"], board["rejected_events"]) == (1, 2)
    await viewer.close()


async def test_a_track_frame_before_the_join_is_refused(stage: Stage, live: LiveApp) -> None:
    viewer = await open_viewer(live, stage.room_id)
    await viewer.send({"type": "track", "events": [{"kind": "view_start", "room_id": stage.room_id, "view_id": "v"}]})
    assert (await viewer.until(lambda m: m.get("type") == "error"))["code"] == "protocol.not_joined"
    await viewer.close()


async def test_accepted_events_get_no_answer_unless_the_page_asks(stage: Stage, live: LiveApp) -> None:
    """The page acts on refusals only, so a frame whose events were all accepted is not answered."""
    await stage.go_live()
    viewer = await open_viewer(live, stage.room_id, join={})
    start = {"kind": "view_start", "room_id": stage.room_id, "view_id": secrets.token_urlsafe(12)}
    await viewer.send({"type": "track", "events": [start]})  # accepted: no answer
    await viewer.send({"type": "track", "events": [start]})  # the same start again: refused, and told
    answer = await viewer.until(lambda m: m.get("type") in ("tracked", "error"))
    assert answer == {"type": "tracked", "accepted": 0, "rejected": 1, "reasons": {"sequence.duplicate_start": 1}}
    await viewer.send({"type": "track", "events": [start], "ack": "yes"})
    assert (await viewer.until(lambda m: m.get("type") == "error"))["code"] == "protocol.malformed"
    assert (await stage.live())["pv"] == 1
    await viewer.close()


async def test_events_in_the_join_frame_are_taken_once_joined(stage: Stage, live: LiveApp) -> None:
    """The page's view start, waiting for the socket, rides its join frame: welcome first, then the events count;
    a refused one is answered after the welcome, and a malformed list refuses the join."""
    await stage.go_live()
    start = {"kind": "view_start", "room_id": stage.room_id, "view_id": secrets.token_urlsafe(12)}
    viewer = await open_viewer(live, stage.room_id, join={"events": [start], "ack": True}, **{"User-Agent": AGENT})
    assert viewer.welcome is not None and viewer.welcome["type"] == "welcome"
    assert (await viewer.until(lambda m: m.get("type") == "tracked"))["accepted"] == 1
    assert (await stage.live())["pv"] == 1
    again = await open_viewer(live, stage.room_id, join={"events": [start]}, **{"User-Agent": AGENT})
    assert again.welcome is not None and again.welcome["type"] == "welcome"
    refused = await again.until(lambda m: m.get("type") == "tracked")
    assert refused["reasons"] == {"sequence.duplicate_start": 1}
    broken = await open_viewer(live, stage.room_id, join={"events": "view_start"})
    assert broken.welcome is not None and broken.welcome["code"] == "protocol.malformed"
    for socket in (viewer, again, broken):
        await socket.close()
