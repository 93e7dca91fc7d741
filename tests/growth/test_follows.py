"""Follows: channel and host, counts, idempotence, the bus event analytics counts as "new followers during the
stream", the follower audience for coupons and draws, and the personal-data export and erasure."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.growth import service as growth
from knowcast.privacy import service as privacy
from tests.growth.conftest import go, make_room


async def test_follow_a_host_twice_counts_once_and_unfollow(make_user: Any, client: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    url = f"/api/v1/hosts/{host.user.id}/follow"
    first = (await viewer.client.put(url)).json()
    second = (await viewer.client.put(url)).json()
    assert first == second == {"kind": "host", "host_id": host.user.id, "following": True, "followers": 1}
    assert (await client.get(url)).json()["followers"] == 1 and (await client.get(url)).json()["following"] is False
    assert (await viewer.client.delete(url)).json()["followers"] == 0


async def test_bad_follows(make_user: Any, client: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    assert (await client.put(f"/api/v1/hosts/{host.user.id}/follow")).status_code == 401
    not_a_host = await viewer.client.put(f"/api/v1/hosts/{viewer.user.id}/follow")
    assert not_a_host.json()["error"]["code"] == "follow.no_such_host"
    assert (await viewer.client.put("/api/v1/hosts/999999/follow")).status_code == 404
    assert (await host.client.put(f"/api/v1/hosts/{host.user.id}/follow")).json()["error"]["code"] == "follow.self"
    assert (await viewer.client.put("/api/v1/hosts/0/follow")).status_code == 422


async def test_follows_during_a_stream_carry_the_room(make_user: Any, ctx: AppContext) -> None:
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    ctx.bus.subscribe("host.followed", record)
    host, early, during = await make_user(Role.HOST), await make_user(), await make_user()
    room = await make_room(host)
    await early.client.put(f"/api/v1/hosts/{host.user.id}/follow")
    await go(host, room["id"], "live")
    await during.client.put(f"/api/v1/hosts/{host.user.id}/follow")
    assert [(e.data["user_id"], e.data["room_id"]) for e in seen] == [
        (early.user.id, None),
        (during.user.id, room["id"]),
    ]
    assert seen[-1].data["host_id"] == host.user.id


async def test_followers_are_an_audience(make_user: Any, ctx: AppContext) -> None:
    host, other_host = await make_user(Role.HOST), await make_user(Role.HOST)
    fan, channel_fan, stranger = await make_user(), await make_user(), await make_user()
    await fan.client.put(f"/api/v1/hosts/{host.user.id}/follow")
    await channel_fan.client.put("/api/v1/channel/follow")
    await stranger.client.put(f"/api/v1/hosts/{other_host.user.id}/follow")
    async with ctx.db.session() as session:
        assert await growth.audience_user_ids(session, host.user.id) == sorted([fan.user.id, channel_fan.user.id])
        assert await growth.audience_user_ids(session, host.user.id, include_channel=False) == [fan.user.id]
        assert await growth.follower_count(session, host.user.id) == 1
    response = await host.client.get(f"/api/v1/hosts/{host.user.id}/followers/audience")
    assert response.json()["user_ids"] == sorted([fan.user.id, channel_fan.user.id])
    assert (await other_host.client.get(f"/api/v1/hosts/{host.user.id}/followers/audience")).status_code == 404
    assert (await fan.client.get(f"/api/v1/hosts/{host.user.id}/followers/audience")).status_code == 403


async def test_export_and_erase(make_user: Any, ctx: AppContext) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    await viewer.client.put(f"/api/v1/hosts/{host.user.id}/follow")
    await viewer.client.put(f"/api/v1/rooms/{room['id']}/reminder")
    async with ctx.db.session() as session:
        data = await growth.export_personal_data(session, viewer.user)
        assert [f["host_id"] for f in data["follows"]] == [host.user.id]
        assert [r["room_id"] for r in data["reminders"]] == [room["id"]]
        assert privacy.EXPORTERS.count(growth.export_personal_data) == 1
        await growth.erase_personal_data(session, viewer.user)
        await session.commit()
        assert await growth.audience_user_ids(session, host.user.id) == []
    assert (await host.client.get(f"/api/v1/rooms/{room['id']}/reminders")).json()["reminders"] == 0
