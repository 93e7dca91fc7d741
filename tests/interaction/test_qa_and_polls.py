"""Q&A and polls: asked and voted over the API, seen live by every viewer."""

from __future__ import annotations

import asyncio
from typing import Any

from knowcast.realtime.hub import Hub
from tests.realtime.harness import LiveApp, open_viewer


def event(name: str) -> Any:
    return lambda m: any(e["name"] == name for e in m.get("events", []))


async def test_questions_are_sorted_by_votes_answered_and_pinned(
    live: LiveApp, room: Any, host: Any, make_user: Any
) -> None:
    watcher = await open_viewer(live, room["id"], join={})
    alice, bob, carol = await make_user(name="Alice"), await make_user(), await make_user()
    base = f"/api/v1/rooms/{room['id']}/questions"
    first = (await alice.client.post(base, json={"text": "指数基金怎么选？"})).json()
    second = (await bob.client.post(base, json={"text": "每月存多少合适？"})).json()
    asked = await watcher.until(event("qa.asked"))
    assert asked["events"][0]["data"]["question"]["name"] == "Alice"
    for voter in (alice, carol):
        assert (await voter.client.post(f"{base}/{second['id']}/vote")).json()["votes"] >= 1
    again = await carol.client.post(f"{base}/{second['id']}/vote")
    assert again.status_code == 409 and again.json()["error"]["code"] == "qa.already_voted"
    order = [q["id"] for q in (await bob.client.get(base)).json()]
    assert order == [second["id"], first["id"]]
    answered = await host.client.post(f"{base}/{second['id']}/answer", json={"answer": "收入的两成"})
    assert answered.json()["answered"] is True and answered.json()["answer"] == "收入的两成"
    assert [q["id"] for q in (await bob.client.get(base)).json()] == [first["id"], second["id"]]
    pinned = await host.client.post(f"{base}/{second['id']}/pin", json={"pinned": True})
    assert pinned.json()["pinned"] is True
    assert [q["id"] for q in (await bob.client.get(base)).json()] == [second["id"], first["id"]]
    late = await open_viewer(live, room["id"], join={})
    assert [q["id"] for q in late.welcome["snapshot"]["questions"]] == [second["id"], first["id"]]


async def test_a_viewer_cannot_answer_but_a_guest_expert_can(room: Any, host: Any, make_user: Any) -> None:
    viewer, expert = await make_user(), await make_user()
    base = f"/api/v1/rooms/{room['id']}/questions"
    question = (await viewer.client.post(base, json={"text": "问题"})).json()
    refused = await viewer.client.post(f"{base}/{question['id']}/answer", json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "qa.cannot_answer"
    await host.client.post(f"/api/v1/rooms/{room['id']}/guests", json={"email": expert.user.email})
    answered = await expert.client.post(f"{base}/{question['id']}/answer", json={"answer": "好问题"})
    assert answered.status_code == 200 and answered.json()["answered_by"] == expert.user.display_name
    assert (await viewer.client.post(f"{base}/{question['id']}/pin", json={"pinned": True})).status_code == 403
    assert (await viewer.client.post(f"{base}/99999/vote")).status_code == 404


async def test_a_poll_counts_one_vote_per_viewer_live(live: LiveApp, room: Any, host: Any, make_user: Any) -> None:
    watcher = await open_viewer(live, room["id"], join={})
    base = f"/api/v1/rooms/{room['id']}/polls"
    poll = (
        await host.client.post(base, json={"question": "下节课讲什么？", "options": ["基金", "股票", "保险"]})
    ).json()
    assert poll["counts"] == [0, 0, 0] and poll["state"] == "open"
    await watcher.until(event("poll.opened"))
    second = await host.client.post(base, json={"question": "再来一个", "options": ["a", "b"]})
    assert second.status_code == 409 and second.json()["error"]["code"] == "poll.already_open"
    voters = [await make_user() for _ in range(3)]
    for voter, option in zip(voters, (0, 0, 2), strict=True):
        assert (await voter.client.post(f"{base}/{poll['id']}/vote", json={"option": option})).status_code == 200
    twice = await voters[0].client.post(f"{base}/{poll['id']}/vote", json={"option": 1})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "poll.already_voted"
    bad = await voters[1].client.post(f"{base}/{poll['id']}/vote", json={"option": 7})
    assert bad.status_code == 422
    results = await watcher.until(
        lambda m: any(e["name"] == "poll.results" and e["data"]["poll"]["total"] == 3 for e in m.get("events", []))
    )
    latest = [e for e in results["events"] if e["name"] == "poll.results"][-1]["data"]["poll"]
    assert latest["counts"] == [2, 0, 1]
    late = await open_viewer(live, room["id"], join={})
    assert late.welcome["snapshot"]["poll"]["counts"] == [2, 0, 1]
    closed = await host.client.post(f"{base}/{poll['id']}/close")
    assert closed.json()["state"] == "closed"
    await watcher.until(event("poll.closed"))
    after = await voters[1].client.post(f"{base}/{poll['id']}/vote", json={"option": 1})
    assert after.status_code == 409 and after.json()["error"]["code"] == "poll.closed"
    assert (await host.client.get(f"{base}/current")).json() is None


async def test_racing_votes_of_one_viewer_count_once(room: Any, host: Any, make_user: Any) -> None:
    base = f"/api/v1/rooms/{room['id']}/polls"
    poll = (await host.client.post(base, json={"question": "q", "options": ["a", "b"]})).json()
    voter = await make_user()
    answers = await asyncio.gather(
        *(voter.client.post(f"{base}/{poll['id']}/vote", json={"option": 1}) for _ in range(5))
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]
    assert (await host.client.get(f"{base}/current")).json()["counts"] == [0, 1]


async def test_poll_results_in_one_tick_are_coalesced(live: LiveApp, room: Any) -> None:
    hub = live.ctx.runtime(Hub)
    for total in range(5):
        data = {"room_id": room["id"], "broadcast": True, "replaces": "poll:1", "poll": {"total": total}}
        hub.submit_event(room["id"], "poll.results", data)
    batch = hub.room(room["id"]).take_batch()
    assert batch is not None
    assert [e["data"]["poll"]["total"] for e in batch[0]["events"]] == [4]
