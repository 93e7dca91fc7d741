"""Lucky draws: a committed seed, verifiable winners, entry conditions, prizes granted automatically."""

from __future__ import annotations

import hashlib
from typing import Any

from knowcast.accounts.models import Role
from knowcast.commerce.draws import winners_from
from knowcast.context import AppContext
from knowcast.realtime.hub import Hub
from tests.commerce.conftest import Shop


async def test_a_draw_is_verifiable_and_grants_its_prize(shop: Shop, make_user: Any) -> None:
    prize = await shop.product(kind="course", title="奖品课程", price=9900)
    opened = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/draws",
        json={
            "title": "抽奖",
            "condition": "keyword",
            "keyword": "学习",
            "prize_product_id": prize["id"],
            "winners": 2,
        },
    )
    assert opened.status_code == 201, opened.text
    draw = opened.json()
    assert draw["seed"] is None and len(draw["seed_hash"]) == 64
    viewers = [await make_user(Role.VIEWER) for _ in range(5)]
    for viewer in viewers:
        entered = await viewer.client.post(f"/api/v1/draws/{draw['id']}/entries", json={"keyword": "我要学习！"})
        assert entered.status_code == 201
    wrong = await make_user(Role.VIEWER)
    refused = await wrong.client.post(f"/api/v1/draws/{draw['id']}/entries", json={"keyword": "hello"})
    assert refused.json()["error"]["code"] == "draw.keyword_required"
    twice = await viewers[0].client.post(f"/api/v1/draws/{draw['id']}/entries", json={"keyword": "学习"})
    assert twice.json()["error"]["code"] == "draw.already_entered"
    too_early = await viewers[0].client.get(f"/api/v1/draws/{draw['id']}/entrants")
    assert too_early.json()["error"]["code"] == "draw.not_drawn"
    drawn = (await shop.host.client.post(f"/api/v1/draws/{draw['id']}/draw")).json()
    assert drawn["state"] == "drawn" and hashlib.sha256(drawn["seed"].encode()).hexdigest() == draw["seed_hash"]
    public = (await viewers[0].client.get(f"/api/v1/draws/{draw['id']}/entrants")).json()
    assert sorted(winners_from(public["seed"], public["user_ids"], public["winners_wanted"])) == drawn["winner_ids"]
    for viewer in viewers:
        owned = [e["product"]["id"] for e in (await viewer.client.get("/api/v1/library")).json()]
        assert (prize["id"] in owned) == (viewer.user.id in drawn["winner_ids"])
    again = await shop.host.client.post(f"/api/v1/draws/{draw['id']}/draw")
    assert again.json()["error"]["code"] == "draw.closed"


async def test_entry_conditions_and_bad_draws(shop: Shop, make_user: Any) -> None:
    prize = await shop.product(kind="file", title="奖品", price=100)
    bought = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/draws",
        json={"title": "买家专享", "condition": "bought", "prize_product_id": prize["id"], "winners": 1},
    )
    viewer = await make_user(Role.VIEWER)
    refused = await viewer.client.post(f"/api/v1/draws/{bought.json()['id']}/entries", json={})
    assert refused.json()["error"]["code"] == "draw.purchase_required"
    for body in (
        {"title": "x", "condition": "watching", "winners": 1},
        {"title": "x", "condition": "keyword", "prize_product_id": prize["id"], "winners": 1},
        {"title": "x", "condition": "watching", "prize_product_id": prize["id"], "winners": 0},
    ):
        assert (await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/draws", json=body)).status_code == 422


def test_winners_follow_from_the_seed_alone() -> None:
    first = winners_from("seed", [5, 3, 9, 1, 7], 2)
    assert first == winners_from("seed", [1, 3, 5, 7, 9], 2) and len(first) == 2
    assert winners_from("other", [1, 3, 5, 7, 9], 5) == sorted(
        [1, 3, 5, 7, 9], key=lambda u: hashlib.sha256(f"other:{u}".encode()).hexdigest()
    )


async def test_a_chat_line_with_the_keyword_enters_its_author(shop: Shop, make_user: Any, ctx: Any) -> None:
    """The chat plane's ``chat.message`` event, published here by hand with the line's text."""
    from knowcast.bus import Event

    prize = await shop.product(kind="file", title="奖品", price=100)
    draw = (
        await shop.host.client.post(
            f"/api/v1/rooms/{shop.room_id}/draws",
            json={
                "title": "口令抽奖",
                "condition": "keyword",
                "keyword": "加油",
                "prize_product_id": prize["id"],
                "winners": 1,
            },
        )
    ).json()
    viewer = await make_user(Role.VIEWER)
    data = {"room_id": shop.room_id, "user_id": viewer.user.id, "message_id": "m1", "text": "主播加油！"}
    await ctx.bus.publish(Event("chat.message", data))
    await ctx.bus.publish(Event("chat.message", {**data, "text": "hello"}))
    assert (await viewer.client.get(f"/api/v1/draws/{draw['id']}")).json()["entries"] == 1


async def test_a_chat_line_enters_every_open_keyword_draw_once(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    from knowcast.commerce import draws

    prize = await shop.product(kind="file", title="奖品", price=100)
    ids = []
    for keyword in ("学习", "理财"):
        body = {
            "title": keyword,
            "condition": "keyword",
            "keyword": keyword,
            "prize_product_id": prize["id"],
            "winners": 1,
        }
        ids.append((await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/draws", json=body)).json()["id"])
    viewer = await make_user(Role.VIEWER)
    async with ctx.db.session() as session:
        assert await draws.enter_by_comment(session, ctx, shop.room_id, viewer.user.id, "学习理财两不误")
        # said again: both entries are refused (the session rolls back between them), nothing breaks
        assert not await draws.enter_by_comment(session, ctx, shop.room_id, viewer.user.id, "还是学习理财")
        assert not await draws.enter_by_comment(session, ctx, shop.room_id, viewer.user.id, "hello")
    for draw_id in ids:
        assert (await viewer.client.get(f"/api/v1/draws/{draw_id}")).json()["entries"] == 1


async def test_a_watching_draw_admits_only_viewers_present_in_the_room(shop: Shop, make_user: Any, app: Any) -> None:
    """#14 point 10: "watching" once admitted anyone; now an open socket that joined or heartbeat recently."""
    from tests.realtime.harness import open_viewer, serve, token_of

    prize = await shop.product(kind="course", title="奖品课程", price=9900)
    body = {"title": "在线抽奖", "condition": "watching", "prize_product_id": prize["id"], "winners": 1}
    draw = (await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/draws", json=body)).json()
    entries = f"/api/v1/draws/{draw['id']}/entries"
    absent, watcher, quiet = [await make_user(Role.VIEWER) for _ in range(3)]
    refused = await absent.client.post(entries, json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "draw.watching_required"
    async for live in serve(app):
        socket = await open_viewer(live, shop.room_id, token_of(watcher), join={})
        assert (await watcher.client.post(entries, json={})).status_code == 201
        stale = await open_viewer(live, shop.room_id, token_of(quiet), join={})
        room = live.ctx.runtime(Hub).rooms[shop.room_id]
        room.present[f"u{quiet.user.id}"] -= (
            live.ctx.runtime(Hub).presence_timeout + 1
        )  # open, but stopped heartbeating
        answer = await quiet.client.post(entries, json={})
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "draw.watching_required"
        await stale.send({"type": "heartbeat"})
        await stale.send({"type": "like"})  # a frame after the heartbeat: once it is counted, so is the heartbeat
        await stale.until(lambda m: m.get("likes", 0) >= 1)
        assert (await quiet.client.post(entries, json={})).status_code == 201
        await socket.close()
        await stale.close()
