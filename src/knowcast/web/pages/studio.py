"""The host's studio: their rooms, the create/edit form, and the console for one room."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from knowcast.accounts.models import User
from knowcast.db.types import utcnow
from knowcast.deps import Ctx, Db, Host, Id
from knowcast.errors import KnowcastError, ValidationFailed
from knowcast.media.runtime import media_of
from knowcast.media.webrtc import ice_servers
from knowcast.money import money
from knowcast.rooms import service as rooms
from knowcast.rooms.errors import RoomsCode
from knowcast.rooms.models import Room
from knowcast.rooms.schemas import RoomCreate, RoomUpdate
from knowcast.rooms.states import RoomState
from knowcast.web.pages.forms import form_file, form_values, parse
from knowcast.web.pages.studio_home import studio_home
from knowcast.web.templating import Pages
from knowcast.web.templating import pages_of as pages

router = APIRouter(prefix="/studio")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def local_to_utc(page: Pages, value: str | None) -> datetime | str | None:
    """A datetime-local input is read in the shop's time zone; anything unreadable is left for validation."""
    if not value:
        return None
    try:
        return datetime.strptime(value, LOCAL_FORMAT).replace(tzinfo=page.zone)
    except ValueError:
        return value


def room_form_values(page: Pages, values: dict[str, str]) -> dict[str, object]:
    data: dict[str, object] = {k: v for k, v in values.items() if k in ("title", "description", "access_mode")}
    data["scheduled_at"] = local_to_utc(page, values.get("scheduled_at"))
    return data


@router.get("")
async def studio(request: Request, ctx: Ctx, db: Db, host: Host) -> Response:
    home = await studio_home(db, ctx, host)
    return pages(request).render(request, "studio.html", home=home, money=money, now=utcnow())


@router.get("/rooms/new")
async def new_room_page(request: Request, _host: Host) -> Response:
    page = pages(request)
    start = (datetime.now(page.zone) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    values = {"scheduled_at": start.strftime(LOCAL_FORMAT), "access_mode": "public"}
    return page.render(request, "room_form.html", room=None, values=values, error=None)


@router.post("/rooms")
async def create_room(request: Request, ctx: Ctx, db: Db, host: Host) -> Response:
    page = pages(request)
    values = await form_values(request)
    try:
        room = await rooms.create_room(db, ctx, host, parse(RoomCreate, room_form_values(page, values)))
        await _save_cover(request, ctx, db, room)
    except KnowcastError as error:
        return page.render(request, "room_form.html", error.status_code, room=None, values=values, error=error)
    return RedirectResponse(f"/studio/rooms/{room.id}", status_code=303)


@router.get("/rooms/{room_id}")
async def console(request: Request, room_id: Id, db: Db, host: Host) -> Response:
    room = await rooms.get_managed_room(db, host, room_id)
    return _console(request, room, host)


@router.post("/rooms/{room_id}")
async def edit_room(request: Request, room_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    room = await rooms.get_managed_room(db, host, room_id)
    values = await form_values(request)
    try:
        await rooms.update_room(db, ctx, room, parse(RoomUpdate, room_form_values(pages(request), values)))
        await _save_cover(request, ctx, db, room)
    except KnowcastError as error:
        return _console(request, room, host, error=error, status_code=error.status_code)
    return RedirectResponse(f"/studio/rooms/{room.id}?saved=1", status_code=303)


@router.post("/rooms/{room_id}/state")
async def change_state(request: Request, room_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    room = await rooms.get_managed_room(db, host, room_id)
    target = (await form_values(request)).get("to", "")
    try:
        if target not in RoomState.__members__.values():
            raise ValidationFailed("unknown room state", code=RoomsCode.ROOM_UNKNOWN_STATE, fields={"to": target})
        await rooms.transition(db, ctx, room, RoomState(target))
    except KnowcastError as error:
        return _console(request, room, host, error=error, status_code=error.status_code)
    return RedirectResponse(f"/studio/rooms/{room.id}", status_code=303)


@router.post("/rooms/{room_id}/stream-key")
async def rotate_key(request: Request, room_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    room = await rooms.get_managed_room(db, host, room_id)
    await rooms.rotate_stream_key(db, ctx, room)
    return RedirectResponse(f"/studio/rooms/{room.id}?rotated=1", status_code=303)


async def _save_cover(request: Request, ctx: Ctx, db: Db, room: Room) -> None:
    upload = await form_file(request, "cover")
    if upload is not None:
        await rooms.set_cover(db, ctx, room, await upload.read(ctx.settings.max_upload_bytes + 1))


def _console(
    request: Request, room: Room, host: User, error: KnowcastError | None = None, status_code: int = 200
) -> Response:
    page = pages(request)
    values = {
        "title": room.title,
        "description": room.description,
        "scheduled_at": room.scheduled_at.astimezone(page.zone).strftime(LOCAL_FORMAT),
        "access_mode": room.access_mode.value,
    }
    camera = _camera(request, room)
    response = page.render(
        request,
        "console.html",
        status_code,
        room=room,
        values=values,
        error=error,
        ingest_url=page.settings.rtmp_public_url,
        camera=camera,
        flags=request.query_params,
    )
    if camera is not None:  # the one page that may use them; every other page keeps camera=() microphone=()
        response.headers["permissions-policy"] = CAMERA_POLICY
    return response


CAMERA_POLICY = "camera=(self), microphone=(self), geolocation=()"


def _camera(request: Request, room: Room) -> dict[str, object] | None:
    """What "go live with camera" needs, when this process takes WHIP publishers and the room can still go live."""
    if media_of(request).whip is None or room.state is RoomState.ENDED:
        return None
    janus = media_of(request).janus_stage is not None  # scaled mode: the stage's guests are watched through Janus
    return {"ice_servers": ice_servers(pages(request).settings), "janus": janus}
