"""Hooks an external media server calls: may this key publish, and the stream started / stopped.

nginx-rtmp ``on_publish`` / ``on_publish_done`` (form POST; 2xx allows, 3xx renames the stream to the
``Location``, anything else refuses), SRS ``http_hooks`` (JSON; HTTP 200 with ``{"code": 0}`` allows) and
MediaMTX ``authHTTPAddress`` (JSON; 2xx allows, 401 refuses). Each hook URL carries the shared secret
(``?secret=`` or the ``X-Knowcast-Hook-Secret`` header), because these calls come from a server, not a browser
session with a CSRF token.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from knowcast.deps import Ctx, Db, Machine
from knowcast.errors import KnowcastError, NotFound, PermissionDenied
from knowcast.media import access, service
from knowcast.media.errors import MediaCode
from knowcast.media.runtime import media_of
from knowcast.media.schemas import MediaMtxAuth, MediaMtxPath, SrsHook
from knowcast.rooms.errors import RoomsCode
from knowcast.rooms.states import AccessMode

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/media/hooks", tags=["media hooks"])


async def media_hook(request: Request, ctx: Ctx) -> None:
    """Server-to-server access: the shared ``media_hook_secret`` instead of a session and a CSRF token."""
    secret = ctx.settings.media_hook_secret
    if not secret:
        raise NotFound(
            "external media-server hooks are off (set KNOWCAST_MEDIA_HOOK_SECRET)", code=MediaCode.MEDIA_HOOKS_OFF
        )
    given = request.query_params.get("secret") or request.headers.get("x-knowcast-hook-secret") or ""
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise PermissionDenied("wrong media hook secret", code=MediaCode.MEDIA_HOOK_SECRET)


HookGuard = Depends(media_hook)


def _key_from(query: str) -> str | None:
    values = parse_qs(query.lstrip("?")).get("key")
    return values[0] if values else None


async def _authorize(request: Request, db: Db, stream: str, key: str | None, source: str) -> int:
    """The room id, after marking it live; raises the coded refusal otherwise."""
    try:
        room = await service.external_room(db, stream, key)
    except KnowcastError as error:
        log.warning("external publish refused", extra={"source": source, "code": error.code})
        raise
    await media_of(request).plane.external_started(room.id)
    log.info("external publish accepted", extra={"source": source, "room_id": room.id})
    return room.id


async def _stopped(request: Request, db: Db, stream: str) -> None:
    room = await service.find_on_air(db, stream)
    if room is not None:
        await media_of(request).plane.external_stopped(room.id)


# ---- nginx-rtmp ----------------------------------------------------------------------------------------------


@router.post("/nginx/publish", dependencies=[Machine, HookGuard])
async def nginx_publish(request: Request, db: Db) -> Response:
    form = await request.form()
    stream, key = str(form.get("name", "")), form.get("key")
    room_id = await _authorize(request, db, stream, str(key) if key else None, "nginx-rtmp")
    if stream != f"room-{room_id}":  # rename the stream so its HLS path does not reveal the key
        return Response(status_code=302, headers={"location": f"room-{room_id}"})
    return Response(status_code=204)


@router.post("/nginx/publish-done", dependencies=[Machine, HookGuard])
async def nginx_publish_done(request: Request, db: Db) -> Response:
    form = await request.form()
    await _stopped(request, db, str(form.get("name", "")))
    return Response(status_code=204)


# ---- SRS -----------------------------------------------------------------------------------------------------


@router.post("/srs", dependencies=[Machine, HookGuard])
async def srs_hook(request: Request, body: SrsHook, db: Db) -> JSONResponse:
    if body.action == "on_publish":
        try:
            await _authorize(request, db, body.stream, _key_from(body.param), "srs")
        except KnowcastError as error:
            return JSONResponse({"code": error.status_code, "msg": error.message}, status_code=error.status_code)
    elif body.action == "on_unpublish":
        await _stopped(request, db, body.stream)
    return JSONResponse({"code": 0, "msg": "OK"})


# ---- MediaMTX ------------------------------------------------------------------------------------------------


@router.post("/mediamtx/auth", dependencies=[Machine, HookGuard])
async def mediamtx_auth(request: Request, body: MediaMtxAuth, db: Db) -> Response:
    stream = body.path.rsplit("/", 1)[-1]
    if body.action == "publish":
        await _authorize(request, db, stream, _key_from(body.query) or body.password or None, "mediamtx")
        return Response(status_code=204)
    if body.action in ("read", "playback"):
        room = await service.find_on_air(db, stream)
        if room is None:
            raise NotFound("no such stream", code=MediaCode.MEDIA_NO_VIDEO)
        token = (parse_qs(body.query).get("t") or [""])[0]
        secret = media_of(request).settings.secret_key
        if room.access_mode is not AccessMode.PUBLIC and not access.token_valid(secret, room.id, token):
            raise PermissionDenied("this room needs a ticket or a membership", code=RoomsCode.ROOM_TICKET_REQUIRED)
        return Response(status_code=204)
    raise PermissionDenied("Knowcast only authorizes publishing and reading", code=MediaCode.MEDIA_ACTION_REFUSED)


@router.post("/mediamtx/ready", dependencies=[Machine, HookGuard])
async def mediamtx_ready(request: Request, body: MediaMtxPath, db: Db) -> Response:
    """For ``runOnReady``; publishing already marked the room live, this confirms it after a restart."""
    room = await service.find_on_air(db, body.path.rsplit("/", 1)[-1])
    if room is not None:
        await media_of(request).plane.external_started(room.id)
    return Response(status_code=204)


@router.post("/mediamtx/not-ready", dependencies=[Machine, HookGuard])
async def mediamtx_not_ready(request: Request, body: MediaMtxPath, db: Db) -> Response:
    await _stopped(request, db, body.path.rsplit("/", 1)[-1])
    return Response(status_code=204)
