"""The invitations onto a stage (连麦) made out to a person are in their personal-data export and go with their
account when it is deleted (media/privacy.py, listed in privacy/service.py)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from sqlalchemy import select

from knowcast.accounts.models import Role
from knowcast.media.models import GuestInvite
from tests.conftest import PASSWORD


async def test_a_guests_invitations_are_exported_and_erased_with_the_account(
    make_room: Any, make_user: Any, ctx: Any
) -> None:
    room = await make_room()
    expert = await make_user(Role.VIEWER, name="王教授")
    added = await room.host.client.post(f"/api/v1/rooms/{room.id}/guests", json={"email": expert.user.email})
    assert added.status_code == 201, added.text
    made = await room.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/invites", json={"user_id": expert.user.id})
    assert made.status_code == 201, made.text
    other = await room.host.client.post(f"/api/v1/media/rooms/{room.id}/stage/invites", json={"name": "嘉宾"})
    assert other.status_code == 201, other.text

    exported = await expert.client.get("/api/v1/privacy/export")
    assert exported.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    invites = json.loads(archive.read("knowcast-export.json"))["stage_invites"]
    assert [(i["room_id"], i["name"], i["used_at"]) for i in invites] == [(room.id, "王教授", None)]
    assert "stage_invites.csv" in archive.namelist()

    deleted = await expert.client.request("DELETE", "/api/v1/auth/me", json={"password": PASSWORD})
    assert deleted.status_code == 204
    async with ctx.db.session() as session:
        left = list(await session.scalars(select(GuestInvite).where(GuestInvite.room_id == room.id)))
    assert [invite.name for invite in left] == ["嘉宾"]  # the link invitation for no account stays
