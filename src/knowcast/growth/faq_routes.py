"""FAQ auto-reply API for hosts: keyword → answer pairs for one room or all of the host's rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from knowcast.deps import MAX_ID, Ctx, Db, Host, Id
from knowcast.growth import faq
from knowcast.growth.schemas import FaqIn, FaqOut
from knowcast.rooms import service as rooms

router = APIRouter(prefix="/faq")
RoomFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("")
async def list_faq(db: Db, host: Host, room_id: RoomFilter = None) -> list[FaqOut]:
    if room_id is not None:
        room = await rooms.get_managed_room(db, host, room_id)
        return [faq.out(e) for e in await faq.of_host(db, room.host_id, room.id)]
    return [faq.out(e) for e in await faq.of_host(db, host.id)]


@router.post("", status_code=201)
async def create_faq(data: FaqIn, ctx: Ctx, db: Db, host: Host) -> FaqOut:
    return faq.out(await faq.create(db, ctx, host, data))


@router.put("/{faq_id}")
async def update_faq(faq_id: Id, data: FaqIn, ctx: Ctx, db: Db, host: Host) -> FaqOut:
    entry = await faq.get_managed(db, host, faq_id)
    return faq.out(await faq.update_entry(db, ctx, host, entry, data))


@router.delete("/{faq_id}", status_code=204)
async def delete_faq(faq_id: Id, ctx: Ctx, db: Db, host: Host) -> Response:
    await faq.delete(db, ctx, await faq.get_managed(db, host, faq_id))
    return Response(status_code=204)
