"""Run-of-show (直播脚本): a room's ordered steps with planned times, carried out during the stream.

A step is planned as an offset after the stream starts, so a late start moves the whole plan. It runs
exactly once: ``run`` first claims it with ``UPDATE ... SET state='running' WHERE id=? AND state='pending'``
and commits; only the caller whose update changed a row carries the step out, so a double tap, two open
consoles and the auto-advance loop can all race and one wins (the others get ``show.step_already_run``).
Each finished step is published as ``show.step_done`` with its planned and actual time; the event is marked
``system`` so the replay's timeline shows it, and it is not broadcast (talking points stay the host's).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, KnowcastError, NotFound
from knowcast.growth import show_actions
from knowcast.growth.errors import GrowthCode
from knowcast.growth.models import ShowStep, StepState
from knowcast.growth.schemas import ShowOut, StepIn, StepOut
from knowcast.rooms.models import Room
from knowcast.rooms.states import ON_AIR, RoomState

MAX_STEPS = 200
STALE_RUNNING = timedelta(minutes=2)  # a step "running" this long was left by a process that died


def planned_at(room: Room, step: ShowStep) -> datetime:
    return (room.started_at or room.scheduled_at) + timedelta(seconds=step.planned_offset_seconds)


def step_out(room: Room, step: ShowStep) -> StepOut:
    planned = planned_at(room, step)
    delay = int((step.started_at - planned).total_seconds()) if step.started_at and room.started_at else None
    data = {c: getattr(step, c) for c in StepOut.model_fields if hasattr(step, c)}
    return StepOut.model_validate({**data, "planned_at": planned, "delay_seconds": delay})


async def steps_of(session: AsyncSession, room_id: int) -> list[ShowStep]:
    query = select(ShowStep).where(ShowStep.room_id == room_id).order_by(ShowStep.position, ShowStep.id)
    return list(await session.scalars(query))


async def show_out(session: AsyncSession, room: Room) -> ShowOut:
    steps = await steps_of(session, room.id)
    done = [s for s in steps if s.state in (StepState.DONE, StepState.RUNNING, StepState.FAILED)]
    current = max(done, key=lambda s: (s.started_at or s.created_at, s.position), default=None)
    upcoming = next((s for s in steps if s.state is StepState.PENDING), None)
    return ShowOut(
        room_id=room.id,
        current=step_out(room, current) if current else None,
        next=step_out(room, upcoming) if upcoming else None,
        steps=[step_out(room, s) for s in steps],
    )


async def get_step(session: AsyncSession, room: Room, step_id: int) -> ShowStep:
    step = await session.get(ShowStep, step_id)
    if step is None or step.room_id != room.id:
        raise NotFound("no such step", code=GrowthCode.SHOW_STEP_NOT_FOUND)
    return step


async def add_step(session: AsyncSession, room: Room, data: StepIn) -> ShowStep:
    if room.state is RoomState.ENDED:
        raise Conflict("this room has ended", code=GrowthCode.SHOW_ROOM_ENDED)
    params = show_actions.validate(data.kind, data.params)
    await show_actions.check_owned(session, room, params)
    count = await session.scalar(select(func.count()).select_from(ShowStep).where(ShowStep.room_id == room.id))
    if int(count or 0) >= MAX_STEPS:
        raise Conflict(f"a script has at most {MAX_STEPS} steps", code=GrowthCode.SHOW_TOO_MANY_STEPS)
    last = await session.scalar(select(func.max(ShowStep.position)).where(ShowStep.room_id == room.id))
    step = ShowStep(room_id=room.id, position=(last or 0) + 1, **data.model_dump(exclude={"params"}), params=params)
    session.add(step)
    await session.commit()
    return step


def _ensure_pending(step: ShowStep) -> None:
    if step.state is not StepState.PENDING:
        raise Conflict(
            "this step has already run", code=GrowthCode.SHOW_STEP_ALREADY_RUN, fields={"state": step.state.value}
        )


async def update_step(session: AsyncSession, step: ShowStep, data: StepIn) -> ShowStep:
    _ensure_pending(step)
    params = show_actions.validate(data.kind, data.params)
    room = await session.get(Room, step.room_id)
    if room is not None:
        await show_actions.check_owned(session, room, params)
    step.params = params
    for name, value in data.model_dump(exclude={"params"}).items():
        setattr(step, name, value)
    await session.commit()
    return step


async def delete_step(session: AsyncSession, step: ShowStep) -> None:
    if step.state is StepState.RUNNING:
        raise Conflict("this step is running", code=GrowthCode.SHOW_STEP_RUNNING)
    await session.delete(step)
    await session.commit()


async def move_step(session: AsyncSession, room: Room, step: ShowStep, position: int) -> list[ShowStep]:
    """Put the step at ``position`` (0-based) in the order and renumber the script 1, 2, 3, ..."""
    steps = [s for s in await steps_of(session, room.id) if s.id != step.id]
    steps.insert(min(position, len(steps)), step)
    for number, item in enumerate(steps, start=1):
        item.position = number
    await session.commit()
    return steps


async def _claim(session: AsyncSession, step_id: int, source: StepState, target: StepState, **values: Any) -> bool:
    result = await session.execute(
        update(ShowStep)
        .where(ShowStep.id == step_id, ShowStep.state == source)
        .values(state=target, **values)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def skip(session: AsyncSession, room: Room, step: ShowStep) -> ShowStep:
    if not await _claim(session, step.id, StepState.PENDING, StepState.SKIPPED):
        await session.refresh(step)
        _ensure_pending(step)
    await session.refresh(step)
    return step


async def retry(session: AsyncSession, room: Room, step: ShowStep) -> ShowStep:
    """A failed step goes back to pending, to be run again."""
    if not await _claim(session, step.id, StepState.FAILED, StepState.PENDING, error_code=None, started_at=None):
        raise Conflict("only a failed step can be tried again", code=GrowthCode.SHOW_STEP_NOT_FAILED)
    await session.refresh(step)
    return step


async def run(session: AsyncSession, ctx: AppContext, actor: User, room: Room, step_id: int, run_by: str) -> ShowStep:
    """Carry out one step, exactly once (see the module docstring)."""
    if room.state not in ON_AIR:
        raise Conflict("steps run while the room is live", code=GrowthCode.SHOW_ROOM_NOT_LIVE)
    step = await get_step(session, room, step_id)
    started = utcnow()
    if not await _claim(session, step.id, StepState.PENDING, StepState.RUNNING, started_at=started, run_by=run_by):
        await session.refresh(step)
        raise Conflict(
            "this step has already run", code=GrowthCode.SHOW_STEP_ALREADY_RUN, fields={"state": step.state.value}
        )
    await session.refresh(step)
    try:
        result = await show_actions.execute(session, ctx, actor, room, step)
    except KnowcastError as error:
        await session.rollback()  # this expires the step: only the id we were given is used from here
        failed = {"error_code": error.code[:64], "done_at": utcnow()}
        await _claim(session, step_id, StepState.RUNNING, StepState.FAILED, **failed)
        await session.refresh(room)
        step = await get_step(session, room, step_id)
        await session.refresh(step)
        await ctx.bus.publish(_event("show.step_failed", room, step, code=error.code))
        raise
    await _claim(session, step.id, StepState.RUNNING, StepState.DONE, result=result, done_at=utcnow())
    await session.refresh(step)
    await ctx.bus.publish(_event("show.step_done", room, step, system=True, text=f"▶ {step.title}", result=result))
    return step


def _event(name: str, room: Room, step: ShowStep, system: bool = False, **extra: Any) -> Event:
    """A step's event: never sent to the room (talking points stay the host's); a ``system`` one is a line
    in the replay's timeline."""
    out = step_out(room, step)
    data: dict[str, Any] = {
        "room_id": room.id,
        "step_id": step.id,
        "position": step.position,
        "kind": step.kind.value,
        "title": step.title,
        "planned_at": out.planned_at.isoformat() if out.planned_at else None,
        "started_at": step.started_at.isoformat() if step.started_at else None,
        "delay_seconds": out.delay_seconds,
        "run_by": step.run_by,
        **extra,
    }
    return Event(name, data, system=system)


async def due_auto_steps(session: AsyncSession) -> list[tuple[int, int]]:
    """(room id, step id) of auto steps whose planned time has come and that are next in their script."""
    now = utcnow()
    rooms = await session.scalars(
        select(Room)
        .join(ShowStep, ShowStep.room_id == Room.id)
        .where(Room.state == RoomState.LIVE, ShowStep.auto.is_(True), ShowStep.state == StepState.PENDING)
    )
    due: list[tuple[int, int]] = []
    for room in set(rooms):
        pending = [s for s in await steps_of(session, room.id) if s.state is StepState.PENDING]
        if pending and pending[0].auto and planned_at(room, pending[0]) <= now:
            due.append((room.id, pending[0].id))
    return due


async def fail_stale(session: AsyncSession) -> int:
    """Steps left "running" by a process that died are marked failed (show.interrupted) so they can be retried."""
    result = await session.execute(
        update(ShowStep)
        .where(ShowStep.state == StepState.RUNNING, ShowStep.started_at < utcnow() - STALE_RUNNING)
        .values(state=StepState.FAILED, error_code=GrowthCode.SHOW_INTERRUPTED)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
