"""Run-of-show API for the room's host: write the script, then carry it out step by step."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from knowcast.deps import Ctx, Db, Host, Id
from knowcast.growth import show
from knowcast.growth.schemas import ShowOut, StepIn, StepMove, StepOut
from knowcast.rooms import service as rooms

router = APIRouter(prefix="/rooms/{room_id}/show")


@router.get("")
async def get_show(room_id: Id, db: Db, host: Host) -> ShowOut:
    """The script with the current and next step, planned against actual times."""
    room = await rooms.get_managed_room(db, host, room_id)
    return await show.show_out(db, room)


@router.post("/steps", status_code=201)
async def add_step(room_id: Id, data: StepIn, db: Db, host: Host) -> StepOut:
    room = await rooms.get_managed_room(db, host, room_id)
    return show.step_out(room, await show.add_step(db, room, data))


@router.put("/steps/{step_id}")
async def update_step(room_id: Id, step_id: Id, data: StepIn, db: Db, host: Host) -> StepOut:
    room = await rooms.get_managed_room(db, host, room_id)
    step = await show.get_step(db, room, step_id)
    return show.step_out(room, await show.update_step(db, step, data))


@router.delete("/steps/{step_id}", status_code=204)
async def delete_step(room_id: Id, step_id: Id, db: Db, host: Host) -> Response:
    room = await rooms.get_managed_room(db, host, room_id)
    await show.delete_step(db, await show.get_step(db, room, step_id))
    return Response(status_code=204)


@router.post("/steps/{step_id}/move")
async def move_step(room_id: Id, step_id: Id, data: StepMove, db: Db, host: Host) -> ShowOut:
    room = await rooms.get_managed_room(db, host, room_id)
    await show.move_step(db, room, await show.get_step(db, room, step_id), data.position)
    return await show.show_out(db, room)


@router.post("/steps/{step_id}/run")
async def run_step(room_id: Id, step_id: Id, ctx: Ctx, db: Db, host: Host) -> StepOut:
    """Carry out this step now. A step runs once: a second tap (or another console) gets 409
    ``show.step_already_run``."""
    room = await rooms.get_managed_room(db, host, room_id)
    return show.step_out(room, await show.run(db, ctx, host, room, step_id, "host"))


@router.post("/steps/{step_id}/skip")
async def skip_step(room_id: Id, step_id: Id, db: Db, host: Host) -> StepOut:
    room = await rooms.get_managed_room(db, host, room_id)
    return show.step_out(room, await show.skip(db, room, await show.get_step(db, room, step_id)))


@router.post("/steps/{step_id}/retry")
async def retry_step(room_id: Id, step_id: Id, db: Db, host: Host) -> StepOut:
    room = await rooms.get_managed_room(db, host, room_id)
    return show.step_out(room, await show.retry(db, room, await show.get_step(db, room, step_id)))
