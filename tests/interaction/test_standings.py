"""A crowd of signed-in viewers joining the live socket together: each gets their own standing in the
``welcome`` (host, moderator, guest expert, banned, muted, plain), read in batches, not three queries each."""

from __future__ import annotations

import asyncio
from typing import Any

from knowcast.accounts.models import Role
from knowcast.interaction.live import LiveInteraction
from knowcast.realtime.hub import Hub
from tests.realtime.harness import LiveApp, open_viewer, token_of


def standings_of(live: LiveApp) -> Any:
    identify = live.ctx.runtime(Hub).identify
    assert identify is not None
    owner = identify.__self__  # type: ignore[attr-defined]
    assert isinstance(owner, LiveInteraction)
    return owner.standings


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
