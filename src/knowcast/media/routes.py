"""HTTP for the video plane: HLS playlists and segments, the player's status, the host's stream health and
the replay's data. External media-server hooks are in knowcast.media.hooks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from knowcast.deps import Ctx, Db, Host, Id, MaybeUser, Public, optional_user
from knowcast.errors import AuthenticationRequired, NotFound, PermissionDenied
from knowcast.media import access, playback, playlist
from knowcast.media.access import RoomFacts
from knowcast.media.errors import MediaCode
from knowcast.media.health import HealthReport
from knowcast.media.playlist import MPEGURL
from knowcast.media.runtime import media_of
from knowcast.media.schemas import Replay, StreamStatus
from knowcast.media.storage import PASSTHROUGH
from knowcast.rooms import service as rooms
from knowcast.rooms.states import RoomState

router = APIRouter(tags=["media"])
api = APIRouter(prefix="/api/v1/media", tags=["media"])
SEGMENT_TYPES = {".ts": "video/mp2t", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
IMMUTABLE = "public, max-age=31536000, immutable"


async def allowed_to_fetch(request: Request, db: Db, room_id: int) -> RoomFacts:
    """The room's facts if this request may fetch its media (public room, valid token, or a viewer let in)."""
    facts = await media_of(request).facts.get(db, room_id)
    if facts.public:
        return facts
    settings = media_of(request).settings
    if access.token_valid(settings.secret_key, room_id, request.query_params.get("t")):
        return facts
    user = await optional_user(request, db)
    await access.ensure_can_fetch(db, user, room_id)
    return facts


def _rewrite(request: Request, facts: RoomFacts, prefix: str = "") -> playlist.Rewrite:
    if facts.public:
        return lambda uri: prefix + uri
    settings = media_of(request).settings
    token = access.new_token(settings.secret_key, facts.room_id, settings.media_url_ttl_seconds)
    return lambda uri: f"{prefix}{uri}?t={token}"


def _playlist_response(text: str, cache: str) -> Response:
    return Response(text, media_type=MPEGURL, headers={"cache-control": cache})


async def _render(request: Request, db: Db, room_id: int, variant: str | None, kind: str) -> Response:
    facts = await allowed_to_fetch(request, db, room_id)
    store = media_of(request).store
    variants = store.variants(room_id)
    scope = "public" if facts.public else "private"
    if not variants:
        raise NotFound("this room has no video yet", code=MediaCode.MEDIA_NO_VIDEO)
    if variant is None and len(variants) > 1:
        text = playlist.render_master(variants, _rewrite(request, facts), f"{kind}.m3u8")
        return _playlist_response(text, f"{scope}, no-cache")
    name = variant or variants[0].name
    if name not in {v.name for v in variants}:
        raise NotFound("no such rendition", code=MediaCode.MEDIA_NO_VARIANT)
    parsed = store.playlist(room_id, name)
    if parsed is None or not parsed.segments:
        raise NotFound("the stream has not produced video yet", code=MediaCode.MEDIA_NO_VIDEO)
    rewrite = _rewrite(request, facts, "" if variant else f"{name}/")
    if kind == "vod":
        return _playlist_response(playlist.render_vod(parsed, rewrite), f"{scope}, max-age=60")
    ended = facts.state is RoomState.ENDED
    return _playlist_response(playlist.render_live(parsed, rewrite, ended=ended), f"{scope}, no-cache")


@router.get("/media/rooms/{room_id}/live.m3u8", dependencies=[Public])
async def live_playlist(request: Request, room_id: Id, db: Db) -> Response:
    return await _render(request, db, room_id, None, "live")


@router.get("/media/rooms/{room_id}/vod.m3u8", dependencies=[Public])
async def vod_playlist(request: Request, room_id: Id, db: Db) -> Response:
    return await _render(request, db, room_id, None, "vod")


@router.get("/media/rooms/{room_id}/{variant}/{name}", dependencies=[Public])
async def variant_file(request: Request, room_id: Id, variant: str, name: str, db: Db) -> Response:
    if name in ("live.m3u8", "vod.m3u8"):
        return await _render(request, db, room_id, variant, name.split(".")[0])
    facts = await allowed_to_fetch(request, db, room_id)
    path = media_of(request).store.segment_path(room_id, variant, name)
    if path is None:
        raise NotFound("no such segment", code=MediaCode.MEDIA_NO_SEGMENT)
    cache = IMMUTABLE if facts.public else "private, max-age=3600"
    media_type = SEGMENT_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"cache-control": cache})


@api.get("/rooms/{room_id}/status", dependencies=[Public])
async def status(request: Request, room_id: Id, db: Db, user: MaybeUser) -> StreamStatus:
    room = await rooms.get_room(db, room_id)
    try:
        await rooms.ensure_can_watch(db, user, room)
    except (AuthenticationRequired, PermissionDenied) as error:
        return StreamStatus(room_id=room.id, state=room.state, stream_url=None, replay_url=None, locked=error.code)
    view = playback.page_context(media_of(request), room, can_watch=True)
    return StreamStatus(
        room_id=room.id,
        state=room.state,
        stream_url=view["stream_url"],
        replay_url=view["replay_url"],
        webrtc_url=view["webrtc_url"],
        webrtc_via=view["webrtc_via"] if view["webrtc_url"] else None,
    )


@api.get("/rooms/{room_id}/health")
async def health(request: Request, room_id: Id, db: Db, host: Host) -> HealthReport:
    await rooms.get_managed_room(db, host, room_id)
    return media_of(request).plane.health(room_id)


@api.get("/rooms/{room_id}/replay", dependencies=[Public])
async def replay(request: Request, room_id: Id, ctx: Ctx, db: Db, user: MaybeUser) -> Replay:
    room = await rooms.get_room(db, room_id)
    await rooms.ensure_can_watch(db, user, room)
    media = media_of(request)
    variants = media.store.variants(room.id)
    first = media.store.playlist(room.id, variants[0].name if variants else PASSTHROUGH)
    has_video = first is not None and bool(first.segments)
    public = room.access_mode.value == "public"
    return Replay(
        room_id=room.id,
        title=room.title,
        vod_url=playback.replay_url(ctx.settings, room.id, public) if has_video else None,
        started_at=first.started_at if first else None,
        duration_s=round(first.duration, 3) if first else 0.0,
        items=media.timeline.items(room.id),
    )
