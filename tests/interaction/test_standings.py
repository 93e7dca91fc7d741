"""A crowd of signed-in viewers joining the live socket together: each gets their own standing in the
``welcome`` (host, moderator, guest expert, banned, muted, plain), from the room's people read once, not three
queries each, and read again when they change."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.accounts.models import Role
from knowcast.interaction.live import LiveInteraction
from knowcast.interaction.models import RoomSanction, SanctionKind
from knowcast.interaction.moderation import RoomPeople
from knowcast.realtime.hub import Hub
from knowcast.realtime.room import LiveRoom
from knowcast.rooms.models import Room
from tests.realtime.harness import LiveApp, open_viewer, token_of


def interaction_of(live: LiveApp) -> LiveInteraction:
    identify = live.ctx.runtime(Hub).identify
    assert identify is not None
    owner = identify.__self__  # type: ignore[attr-defined]
    assert isinstance(owner, LiveInteraction)
    return owner


def standings_of(live: LiveApp) -> Any:
    return interaction_of(live).standings


async def test_a_crowd_gets_each_their_own_standing_in_few_batches(
    live: LiveApp, room: Any, host: Any, make_user: Any
) -> None:
    rid = room["id"]
    mod, expert, troll, noisy = await make_user(), await make_user(), await make_user(), await make_user()
    site_mod = await make_user(Role.MODERATOR)
    plain = [await make_user() for _ in range(30)]
    assert (await host.client.post(f"/api/v1/rooms/{rid}/moderators", json={"email": mod.user.email})).is_success
    guest = {"email": expert.user.email, "title": "注册理财师"}
    assert (await host.client.post(f"/api/v1/rooms/{rid}/guests", json=guest)).is_success
    ban = {"user_id": troll.user.id, "kind": "ban"}
    assert (await host.client.post(f"/api/v1/rooms/{rid}/sanctions", json=ban)).status_code == 201
    mute = {"user_id": noisy.user.id, "kind": "mute", "seconds": 300}
    assert (await host.client.post(f"/api/v1/rooms/{rid}/sanctions", json=mute)).status_code == 201
    crowd = [host, mod, expert, troll, noisy, site_mod, *plain]
    batches = standings_of(live).queries

    viewers = await asyncio.gather(*(open_viewer(live, rid, token_of(m), join={}) for m in crowd))

    you = {member.user.id: viewer.welcome["you"] for member, viewer in zip(crowd, viewers, strict=True)}
    assert all(viewer.welcome["type"] == "welcome" for viewer in viewers)
    assert you[host.user.id]["badge"] == "host" and you[host.user.id]["is_host"] is True
    assert you[mod.user.id]["badge"] == "mod" and you[mod.user.id]["can_moderate"] is True
    assert you[site_mod.user.id]["badge"] == "mod" and you[site_mod.user.id]["is_host"] is False
    assert you[expert.user.id]["badge"] == "guest" and you[expert.user.id]["can_answer"] is True
    assert you[expert.user.id]["can_moderate"] is False
    assert you[troll.user.id]["banned"] is True and you[troll.user.id]["can_chat"] is False
    assert you[noisy.user.id]["muted_until"] is not None and you[noisy.user.id]["can_chat"] is True
    for member in plain:
        mine = you[member.user.id]
        assert mine["user_id"] == member.user.id and mine["name"] == member.user.display_name
        assert (mine["badge"], mine["banned"], mine["muted_until"], mine["can_moderate"]) == (None, False, None, False)
    assert standings_of(live).queries - batches < len(crowd) // 4  # read together, not one by one
    for viewer in viewers:
        await viewer.close()


async def test_a_ban_committed_before_joining_is_read_at_once(
    live: LiveApp, room: Any, host: Any, make_user: Any
) -> None:
    troll = await make_user()
    first = await open_viewer(live, room["id"], token_of(troll), join={})
    assert first.welcome["you"]["banned"] is False
    await first.close()
    ban = {"user_id": troll.user.id, "kind": "ban"}
    assert (await host.client.post(f"/api/v1/rooms/{room['id']}/sanctions", json=ban)).status_code == 201
    again = await open_viewer(live, room["id"], token_of(troll), join={})
    assert again.welcome["you"]["banned"] is True
    await again.close()


async def test_the_rooms_people_are_read_once_for_a_crowd_and_again_after_a_change_in_any_process(
    live: LiveApp, room: Any, host: Any, make_user: Any
) -> None:
    """Three queries per room, not per arrival; a change made by another process (a sanction written there,
    its event arriving here through the hub) is read again before the next arrival is told."""
    rid = room["id"]
    troll = await make_user()
    lookups = standings_of(live)
    before = lookups.queries
    crowd = [await make_user() for _ in range(10)]
    viewers = await asyncio.gather(*(open_viewer(live, rid, token_of(m), join={}) for m in [*crowd, troll]))
    assert lookups.queries - before == 1
    async with live.ctx.db.session() as db:  # another process bans the troll: its row, not yet its event
        db.add(RoomSanction(room_id=rid, user_id=troll.user.id, kind=SanctionKind.BAN, created_by=host.user.id))
        await db.commit()
    interaction_of(live).apply(LiveRoom(rid), "chat.user_banned", {"user_id": troll.user.id})
    again = await open_viewer(live, rid, token_of(troll), join={})
    assert again.welcome["you"]["banned"] is True and lookups.queries - before == 2
    for viewer in [*viewers, again]:
        await viewer.close()


def test_a_mute_that_ran_out_since_the_read_is_over() -> None:
    until = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    people = RoomPeople(frozenset(), frozenset(), {7: (False, until)})
    room = Room(id=1, host_id=2)
    assert people.standing(room, 7, Role.VIEWER, until - timedelta(seconds=1)).muted_until == until
    assert people.standing(room, 7, Role.VIEWER, until + timedelta(seconds=1)).muted_until is None
    assert people.standing(room, 8, Role.VIEWER, until).badge is None
