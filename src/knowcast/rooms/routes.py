"""JSON API for rooms: /api/v1/rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, UploadFile

from knowcast.accounts.models import User
from knowcast.accounts.permissions import Permission
from knowcast.context import AppContext
from knowcast.deps import Ctx, Db, Id, Public, require
from knowcast.integrations.scopes import Scope
from knowcast.rooms import service
from knowcast.rooms.models import Room
from knowcast.rooms.schemas import RoomCreate, RoomList, RoomPrivate, RoomPublic, RoomTransition, RoomUpdate, cover_url

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])
# a host signed in, or an API token with the scope (docs/integrations.md)
HostReading = Annotated[User, Depends(require(Permission.MANAGE_ROOMS, scope=Scope.ROOMS_READ))]
HostWriting = Annotated[User, Depends(require(Permission.MANAGE_ROOMS, scope=Scope.ROOMS_WRITE))]
KeyHolder = Annotated[User, Depends(require(Permission.MANAGE_ROOMS, scope=Scope.ROOMS_STREAM_KEY))]


def shows_stream_key(request: Request) -> bool:
    """A signed-in host sees their stream key; an API token only with the ``rooms:stream_key`` scope."""
    grant = getattr(request.state, "api_token", None)
    return grant is None or Scope.ROOMS_STREAM_KEY.value in grant.scopes


def public_view(room: Room) -> RoomPublic:
    return RoomPublic.model_validate({**_fields(room), "cover_url": cover_url(room.cover_path)})


def private_view(room: Room, ctx: AppContext, request: Request) -> RoomPrivate:
    return RoomPrivate.model_validate(
        {
            **_fields(room),
            "cover_url": cover_url(room.cover_path),
            "stream_key": room.stream_key if shows_stream_key(request) else None,
            "ingest_url": ctx.settings.rtmp_public_url,
        }
    )


def _fields(room: Room) -> dict[str, object]:
    names = ("id", "host_id", "title", "description", "scheduled_at", "state", "access_mode", "started_at", "ended_at")
    return {name: getattr(room, name) for name in names}


@router.get("", dependencies=[Public])
async def list_rooms(db: Db) -> RoomList:
    channel = await service.channel(db)
    return RoomList(
        live=[public_view(r) for r in channel.live],
        upcoming=[public_view(r) for r in channel.upcoming],
        past=[public_view(r) for r in channel.past],
    )


@router.post("", status_code=201)
async def create_room(request: Request, data: RoomCreate, ctx: Ctx, db: Db, host: HostWriting) -> RoomPrivate:
    return private_view(await service.create_room(db, ctx, host, data), ctx, request)


@router.get("/{room_id}", dependencies=[Public])
async def get_room(room_id: Id, db: Db) -> RoomPublic:
    return public_view(await service.get_room(db, room_id))


@router.get("/{room_id}/private")
async def get_room_private(request: Request, room_id: Id, ctx: Ctx, db: Db, host: HostReading) -> RoomPrivate:
    return private_view(await service.get_managed_room(db, host, room_id), ctx, request)


@router.patch("/{room_id}")
async def update_room(
    request: Request, room_id: Id, data: RoomUpdate, ctx: Ctx, db: Db, host: HostWriting
) -> RoomPrivate:
    room = await service.get_managed_room(db, host, room_id)
    return private_view(await service.update_room(db, ctx, room, data), ctx, request)


@router.post("/{room_id}/cover")
async def upload_cover(
    request: Request, room_id: Id, cover: UploadFile, ctx: Ctx, db: Db, host: HostWriting
) -> RoomPrivate:
    room = await service.get_managed_room(db, host, room_id)
    data = await cover.read(ctx.settings.max_upload_bytes + 1)
    return private_view(await service.set_cover(db, ctx, room, data), ctx, request)


@router.post("/{room_id}/transitions")
async def transition(
    request: Request, room_id: Id, data: RoomTransition, ctx: Ctx, db: Db, host: HostWriting
) -> RoomPrivate:
    room = await service.get_managed_room(db, host, room_id)
    return private_view(await service.transition(db, ctx, room, data.to), ctx, request)


@router.post("/{room_id}/stream-key")
async def rotate_stream_key(request: Request, room_id: Id, ctx: Ctx, db: Db, host: KeyHolder) -> RoomPrivate:
    room = await service.get_managed_room(db, host, room_id)
    return private_view(await service.rotate_stream_key(db, ctx, room), ctx, request)
