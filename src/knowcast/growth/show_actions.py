"""What each kind of run-of-show step does, through the owning domain's service: pin a product, start a flash
sale, drop a coupon, open a poll or a draw, call for questions. A segment only marks the time.

Parameters are checked when the step is written (with the owning domain's own schema), so a script that
cannot run is refused before the stream, not in the middle of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.bus import Event
from knowcast.commerce import coupons, draws, flash, ownership, shelf
from knowcast.commerce.schemas import DrawCreate, DropCreate, FlashSaleCreate, PinIn
from knowcast.context import AppContext
from knowcast.errors import ValidationFailed
from knowcast.growth.errors import GrowthCode
from knowcast.growth.models import ShowStep, StepKind
from knowcast.interaction import polls, qa
from knowcast.interaction.schemas import PollIn
from knowcast.rooms.models import Room


class SegmentParams(BaseModel):
    pass


class QaParams(BaseModel):
    pin_top_question: bool = True


SCHEMAS: dict[StepKind, type[BaseModel]] = {
    StepKind.SEGMENT: SegmentParams,
    StepKind.PIN: PinIn,
    StepKind.FLASH: FlashSaleCreate,
    StepKind.COUPON: DropCreate,
    StepKind.POLL: PollIn,
    StepKind.DRAW: DrawCreate,
    StepKind.QA: QaParams,
}
RUN_TIME_FIELDS = ("starts_at", "program_time")  # filled in when the step runs


def validate(kind: StepKind, params: dict[str, Any]) -> dict[str, Any]:
    """The step's parameters as its domain's schema reads them, or ValidationFailed(show.bad_params)."""
    try:
        model = SCHEMAS[kind].model_validate({k: v for k, v in params.items() if k not in RUN_TIME_FIELDS})
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]) or "params": str(e["msg"]) for e in exc.errors()}
        raise ValidationFailed(
            "this step's settings are incomplete or wrong", code=GrowthCode.SHOW_BAD_PARAMS, fields=fields
        ) from None
    if kind is StepKind.PIN and model.model_dump().get("product_id") is None:
        raise ValidationFailed(
            "say which product to pin", code=GrowthCode.SHOW_BAD_PARAMS, fields={"product_id": "required"}
        )
    return model.model_dump(mode="json", exclude_none=True, exclude=set(RUN_TIME_FIELDS))


async def check_owned(session: AsyncSession, room: Room, params: dict[str, Any]) -> None:
    """The products and coupons a step names are the room host's own (refused now, not mid-stream)."""
    await ownership.ensure_owned(
        session,
        room.host_id,
        product_ids=[params.get("product_id"), params.get("prize_product_id")],
        coupon_ids=[params.get("coupon_id"), params.get("prize_coupon_id")],
    )


Action = Callable[[AsyncSession, AppContext, User, Room, dict[str, Any], ShowStep], Awaitable[dict[str, Any]]]


async def _segment(
    _s: AsyncSession, _c: AppContext, _u: User, _r: Room, _p: dict[str, Any], _st: ShowStep
) -> dict[str, Any]:
    return {}


async def _pin(s: AsyncSession, c: AppContext, _u: User, r: Room, p: dict[str, Any], _st: ShowStep) -> dict[str, Any]:
    entry = await shelf.pin(s, c, r, int(p["product_id"]), None)
    return {"product_id": entry.product.id if entry else None}


async def _flash(s: AsyncSession, c: AppContext, _u: User, r: Room, p: dict[str, Any], _st: ShowStep) -> dict[str, Any]:
    sale = await flash.create_sale(s, c, r, FlashSaleCreate.model_validate(p))
    return {"sale_id": sale.id}


async def _coupon(s: AsyncSession, c: AppContext, u: User, r: Room, p: dict[str, Any], _st: ShowStep) -> dict[str, Any]:
    drop = await coupons.start_drop(s, c, u, r.id, DropCreate.model_validate(p))
    return {"drop_id": drop.id}


async def _poll(s: AsyncSession, c: AppContext, u: User, r: Room, p: dict[str, Any], _st: ShowStep) -> dict[str, Any]:
    poll = await polls.open_poll(s, c, u, r, PollIn.model_validate(p))
    return {"poll_id": poll.id}


async def _draw(s: AsyncSession, c: AppContext, u: User, r: Room, p: dict[str, Any], _st: ShowStep) -> dict[str, Any]:
    draw = await draws.open_draw(s, c, u, r, DrawCreate.model_validate(p))
    return {"draw_id": draw.id}


async def _qa(s: AsyncSession, c: AppContext, u: User, r: Room, p: dict[str, Any], st: ShowStep) -> dict[str, Any]:
    """Call for questions (a system line in the room) and pin the most-voted open question."""
    await c.bus.publish(Event("show.qa_called", {"room_id": r.id, "text": st.title}, to_room=True, system=True))
    if not p.get("pin_top_question", True):
        return {}
    open_questions = [q for q in await qa.top(s, r.id) if not q.answered]
    if not open_questions:
        return {}
    best = max(open_questions, key=lambda q: q.votes)
    await qa.pin(s, c, u, r, best.id, True)
    return {"question_id": best.id}


ACTIONS: dict[StepKind, Action] = {
    StepKind.SEGMENT: _segment,
    StepKind.PIN: _pin,
    StepKind.FLASH: _flash,
    StepKind.COUPON: _coupon,
    StepKind.POLL: _poll,
    StepKind.DRAW: _draw,
    StepKind.QA: _qa,
}


async def execute(session: AsyncSession, ctx: AppContext, actor: User, room: Room, step: ShowStep) -> dict[str, Any]:
    return await ACTIONS[step.kind](session, ctx, actor, room, dict(step.params or {}), step)
