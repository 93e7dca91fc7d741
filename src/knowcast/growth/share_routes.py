"""Sharing: posters per room (or the channel) and traffic channel, the sites allowed to embed rooms, and a
room's embed code.

Share links come from analytics' builder (``analytics.channels``: the same utm parameters its channel
reports read), so a poster's QR code is attributed like any other share link.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from knowcast.accounts.models import User
from knowcast.analytics import channels
from knowcast.context import AppContext
from knowcast.deps import Ctx, Db, Host, Id, Owner
from knowcast.errors import ValidationFailed
from knowcast.growth import embed, fonts, posters
from knowcast.growth.errors import GrowthCode
from knowcast.growth.schemas import EmbedSiteIn, EmbedSiteOut
from knowcast.rooms import service as rooms
from knowcast.rooms.models import Room
from knowcast.rooms.states import RoomState

router = APIRouter()
Label = Annotated[str, Query(max_length=64)]
Locale = Annotated[Literal["zh-CN", "en"] | None, Query()]
FONT_HEADER = "x-knowcast-poster-font"


class EmbedCode(BaseModel):
    url: str
    html: str
    allowed_sites: list[str]


def _source(value: str) -> str:
    source = channels.clean(value)
    if not source:
        raise ValidationFailed(
            "name the channel the poster is for", code=GrowthCode.POSTER_BAD_SOURCE, fields={"source": value}
        )
    return source


def _when(ctx: AppContext, value: datetime) -> str:
    local = value.astimezone(ZoneInfo(ctx.settings.timezone))
    offset = local.utcoffset()
    hours = int(offset.total_seconds() // 3600) if offset else 0
    return local.strftime("%Y-%m-%d %H:%M") + f" GMT{hours:+d}"


async def _png(ctx: AppContext, spec: posters.PosterSpec) -> Response:
    font = fonts.find(ctx.settings.poster_font)
    folder = ctx.settings.data_dir / "posters"
    path = folder / f"{posters.cache_key(spec, font)}.png"
    if path.is_file():
        data = path.read_bytes()
    else:
        data = await asyncio.to_thread(posters.render, spec, font)
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    headers = {"cache-control": "private, max-age=300", FONT_HEADER: "cjk" if font.cjk else "fallback"}
    return Response(data, media_type="image/png", headers=headers)


async def _host_name(session: AsyncSession, room: Room) -> str:
    host = await session.get(User, room.host_id)
    return host.display_name if host else ""


@router.get("/rooms/{room_id}/poster.png", response_class=Response)
async def room_poster(
    room_id: Id,
    ctx: Ctx,
    db: Db,
    host: Host,
    source: Label = "poster",
    medium: Label = "",
    campaign: Label = "",
    locale: Locale = None,
) -> Response:
    """A PNG poster; its QR code holds the room's share link for ``source`` (``medium``, ``campaign``)."""
    room = await rooms.get_managed_room(db, host, room_id)
    url = channels.share_url(
        ctx.settings.public_url, room.id, _source(source), channels.clean(medium), channels.clean(campaign)
    )
    cover = ctx.settings.data_dir / "uploads" / "covers" / room.cover_path if room.cover_path else None
    spec = posters.PosterSpec(
        locale=locale or host.locale or ctx.settings.default_locale,
        title=room.title,
        when=_when(ctx, room.started_at or room.scheduled_at),
        state=room.state.value,
        host=await _host_name(db, room),
        description=room.description,
        url=url,
        site_name=ctx.settings.site_name,
        cover=cover,
    )
    return await _png(ctx, spec)


@router.get("/channel/poster.png", response_class=Response)
async def channel_poster(
    ctx: Ctx,
    db: Db,
    host: Host,
    source: Label = "poster",
    medium: Label = "",
    campaign: Label = "",
    locale: Locale = None,
) -> Response:
    """The channel's poster: the shop's name and its next stream, with the channel home's share link."""
    query = {
        "utm_source": _source(source),
        "utm_medium": channels.clean(medium),
        "utm_campaign": channels.clean(campaign),
    }
    url = f"{ctx.settings.public_url.rstrip('/')}/?{urlencode({k: v for k, v in query.items() if v})}"
    home = await rooms.channel(db)
    upcoming = next(iter(home.live or home.upcoming), None)
    spec = posters.PosterSpec(
        locale=locale or host.locale or ctx.settings.default_locale,
        title=ctx.settings.site_name,
        when=_when(ctx, upcoming.started_at or upcoming.scheduled_at) if upcoming else "",
        state="channel",
        host=upcoming.title if upcoming else "",
        description="",
        url=url,
        site_name=ctx.settings.public_url,
    )
    return await _png(ctx, spec)


@router.get("/embed/sites")
async def embed_sites(db: Db, _owner: Owner) -> list[EmbedSiteOut]:
    return [EmbedSiteOut.model_validate(s) for s in await embed.sites(db)]


@router.post("/embed/sites", status_code=201)
async def add_embed_site(data: EmbedSiteIn, db: Db, _owner: Owner) -> EmbedSiteOut:
    """Allow a site to embed rooms (``https://blog.example.com``); ``*`` and bare schemes are refused."""
    return EmbedSiteOut.model_validate(await embed.add_site(db, data.origin))


@router.delete("/embed/sites/{site_id}", status_code=204)
async def remove_embed_site(site_id: Id, db: Db, _owner: Owner) -> Response:
    await embed.remove_site(db, site_id)
    return Response(status_code=204)


@router.get("/rooms/{room_id}/embed-code")
async def embed_code(room_id: Id, ctx: Ctx, db: Db, host: Host) -> EmbedCode:
    room = await rooms.get_managed_room(db, host, room_id)
    url = f"{ctx.settings.public_url.rstrip('/')}/embed/rooms/{room.id}"
    return EmbedCode(url=url, html=iframe_html(url, room), allowed_sites=[s.origin for s in await embed.sites(db)])


def iframe_html(url: str, room: Room) -> str:
    title = room.title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    ended = ' loading="lazy"' if room.state is RoomState.ENDED else ""
    return (
        f'<iframe src="{url}" title="{title}" width="100%" height="640" style="border:0;max-width:960px" '
        f'allow="autoplay; fullscreen; picture-in-picture" allowfullscreen{ended}></iframe>'
    )
