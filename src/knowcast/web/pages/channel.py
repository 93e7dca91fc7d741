"""The channel home and the viewer's room page."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from knowcast.accounts import service as accounts
from knowcast.deps import Db, Id, MaybeUser, Public
from knowcast.errors import AuthenticationRequired, KnowcastError, NotFound, PermissionDenied
from knowcast.media import playback
from knowcast.media.runtime import media_of
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room
from knowcast.rooms.schemas import cover_url
from knowcast.rooms.states import RoomState
from knowcast.web.templating import Pages
from knowcast.web.templating import pages_of as pages

router = APIRouter()
OG_DEFAULT = "dist/img/og-default.png"  # made by the build from static/img/logo.svg


@router.get("/", dependencies=[Public])
async def home(request: Request, db: Db, _user: MaybeUser) -> Response:
    channel = await rooms.channel(db)
    return pages(request).render(request, "home.html", channel=channel)


@router.get("/rooms/{room_id}", dependencies=[Public])
async def room_page(request: Request, room_id: Id, db: Db, user: MaybeUser) -> Response:
    room = await rooms.get_room(db, room_id)
    locked: KnowcastError | None = None
    try:
        await rooms.ensure_can_watch(db, user, room)
    except (AuthenticationRequired, PermissionDenied) as error:
        locked = error  # the page still sells the room: title, time, description, how to get in
    host = await host_name_of(db, room)
    return pages(request).render(request, "room.html", **room_context(request, pages(request), room, locked, host))


async def host_name_of(db: AsyncSession, room: Room) -> str:
    """The host's public nickname, shown beside the room's title (the avatar's letter is its first)."""
    try:
        return (await accounts.get_user(db, room.host_id)).display_name
    except NotFound:
        return ""


def room_context(
    request: Request, site: Pages, room: Room, locked: KnowcastError | None, host_name: str = ""
) -> dict[str, Any]:
    """What room.html is rendered with besides the viewer (web/room_page.py renders it ahead of the app)."""
    base = site.settings.public_url.rstrip("/")
    return {
        "room": room,
        "host_name": host_name,
        "locked": locked,
        "canonical": f"{base}/rooms/{room.id}",
        "image": f"{base}{cover_url(room.cover_path) if room.cover_path else site.assets.url(OG_DEFAULT)}",
        "json_ld": broadcast_event(room, base, site.settings.site_name),
        **playback.page_context(media_of(request), room, can_watch=locked is None),
    }


def broadcast_event(room: Room, base: str, site_name: str) -> str:
    """schema.org BroadcastEvent for search engines and link previews, escaped for a <script> block."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BroadcastEvent",
        "name": room.title,
        "description": room.description[:300],
        "url": f"{base}/rooms/{room.id}",
        "isLiveBroadcast": True,
        "startDate": (room.started_at or room.scheduled_at).isoformat(),
        "eventStatus": "https://schema.org/EventScheduled",
        "publishedOn": {"@type": "BroadcastService", "name": site_name, "url": base + "/"},
    }
    if room.ended_at:
        data["endDate"] = room.ended_at.isoformat()
    if room.state is RoomState.ENDED:
        data["isLiveBroadcast"] = False
    if room.cover_path:
        data["image"] = f"{base}{cover_url(room.cover_path)}"
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
