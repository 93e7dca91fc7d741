"""A room's commerce snapshot for arriving viewers: the part everyone gets the same, built once per process
and kept until an event changes it, and the viewer's own part, looked up for many viewers in one query.

Ten thousand viewers opening a room in the same minute all ask for the same shelf (with its rendered product
descriptions), pin, running sale, coupon drop and lucky draw. Each process builds that once (one database
session; concurrent arrivals share the one load) and encodes it once; an anonymous viewer is sent those very
bytes. The copy is dropped:

- at once in the process where a commerce change happens (every bus event of ``PREFIXES`` with a room id:
  a pin, a shelf change, a sale scheduled or ended, a purchase, a coupon claimed, a draw entered...);
- in every other process when the room's next tick delivers the event (the hub's appliers run in every
  process as the tick arrives: within one tick, 100-250 ms);
- when a time it holds passes (a scheduled sale starts, a sale, drop or draw closes).

And after ``MAX_AGE`` seconds it is read again in any case, for the few changes no tick carries to other
processes (a stock reservation by an unpaid order, a draw's entry count): in the background, the copy still
given meanwhile. Dropping it instead made everyone arriving during the read wait for it, every ``MAX_AGE``
seconds, and in a storm that read (a dozen queries, each a turn of a busy event loop) took 0.6 s.

A price change reaches rooms as a ``shelf.updated`` broadcast for each room whose shelf holds the product
(``announce_product_change``), so open pages and the caches of every process see it.

The viewer's own part (a coupon they claimed from the open drop: its value as they hold it) is looked up for
all viewers arriving together in one query (``ClaimLookups``); it is never put in the shared copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from knowcast.batches import Batches
from knowcast.bus import Event
from knowcast.commerce import coupons, draws, flash, shelf
from knowcast.commerce.models import ShelfItem
from knowcast.commerce.promotions import CouponClaim, DrawState
from knowcast.commerce.schemas import DropOut, ShelfEntry
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.realtime.hub import Hub
from knowcast.realtime.room import LiveRoom
from knowcast.rooms import service as rooms
from knowcast.rooms.states import AccessMode

log = logging.getLogger(__name__)
PREFIXES = ("shelf.", "flash.", "coupon.", "draw.", "order.", "room.", "experiment.")
MAX_AGE = 5.0
BATCH = 500  # users per claim query: well under SQLite's bound on a statement's parameters
WINDOW = 0.005  # seconds a lone arrival waits for others to share its query


@dataclass(frozen=True, slots=True)
class Shared:
    """What every viewer of a room gets the same, as of one read."""

    room_id: int
    host_id: int
    public: bool  # open to everyone: no viewer is kept out of the sale, the drop or the draw
    experiments: bool  # the host runs experiments: each viewer's shelf is dressed for them (route only)
    shelf: list[ShelfEntry]
    sale: dict[str, Any] | None
    drop: DropOut | None
    draw: dict[str, Any] | None
    expires: float  # time.monotonic() when a time it holds passes: nobody gets it after that
    refresh_at: float  # time.monotonic() after which it is read again in the background (MAX_AGE)
    body: bytes = field(default=b"")  # the whole snapshot of a viewer with no part of their own, encoded

    def as_dict(self, drop: DropOut | None, variants: dict[str, str]) -> dict[str, object]:
        return {
            "shelf": [e.model_dump(mode="json") for e in self.shelf],
            "sale": self.sale,
            "drop": drop.model_dump(mode="json") if drop else None,
            "draw": self.draw,
            "variants": variants,
        }

    def body_for(self, held: int | None, mine: dict[str, Any] | None = None) -> bytes:
        """The snapshot of a viewer with no experiment variants who holds ``held`` of the drop's coupon, with
        their own shop part (``mine``: pending orders, what they own, their coupons) when signed in."""
        if held is None and mine is None:
            return self.body
        drop = self.drop
        if held is not None and drop is not None:
            drop = drop.model_copy(update={"coupon": drop.coupon.model_copy(update={"value": held})})
        data = self.as_dict(drop, {})
        if mine is not None:
            data["mine"] = mine
        return encode(data)


def encode(data: dict[str, object]) -> bytes:
    """As FastAPI's JSONResponse encodes (UTF-8, no spaces)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class RoomSnapshots:
    """Each room's ``Shared`` part in this process: loaded once for a crowd, dropped when events change it."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._rooms: dict[int, Shared] = {}
        self._loading: dict[int, asyncio.Future[Shared]] = {}
        self._generation: dict[int, int] = {}  # bumped by each invalidation: a load that raced one is not kept
        self.loads = 0

    def install(self) -> None:
        self.ctx.runtime(Hub).appliers.append(self.apply)
        self.ctx.bus.subscribe("*", self.on_event)
        self.ctx.bus.subscribe("product.updated", self.announce_product_change)

    async def get(self, room_id: int) -> Shared:
        cached = self._rooms.get(room_id)
        now = time.monotonic()
        if cached is not None and cached.expires > now:
            if cached.refresh_at <= now:
                self._read(room_id)  # behind the crowd, which is given this copy meanwhile
            return cached
        return await asyncio.shield(self._read(room_id))

    def _read(self, room_id: int) -> asyncio.Future[Shared]:
        loading = self._loading.get(room_id)
        if loading is None:  # a crowd arriving together shares one read
            loading = self._loading[room_id] = asyncio.ensure_future(self._load(room_id))
            loading.add_done_callback(partial(self._loaded, room_id))
        return loading

    def _loaded(self, room_id: int, loading: asyncio.Future[Shared]) -> None:
        if self._loading.get(room_id) is loading:
            del self._loading[room_id]
        if not loading.cancelled() and loading.exception() is not None:  # its askers have it; a refresh had none
            self._rooms.pop(room_id, None)

    def invalidate(self, room_id: int) -> None:
        self._rooms.pop(room_id, None)
        self._generation[room_id] = self._generation.get(room_id, 0) + 1
        self._loading.pop(room_id, None)  # a load under way may have read the old state: the next asks again

    def apply(self, room: LiveRoom, name: str, _data: dict[str, Any]) -> None:
        """A hub applier: runs in every process as the room's tick delivers the event."""
        if name.startswith(PREFIXES):
            self.invalidate(room.id)

    async def on_event(self, event: Event) -> None:
        """This process's own events, before any tick: the next viewer here already sees the change."""
        room_id = event.data.get("room_id")
        if isinstance(room_id, int) and event.name.startswith(PREFIXES):
            self.invalidate(room_id)

    async def announce_product_change(self, event: Event) -> None:
        """A product's price, title or stock changed: each room that shelves it hears ``shelf.updated``."""
        product_id = event.data.get("product_id")
        if not isinstance(product_id, int):
            return
        async with self.ctx.db.session() as db:
            room_ids = list(await db.scalars(select(ShelfItem.room_id).where(ShelfItem.product_id == product_id)))
            changed = [(room_id, await shelf.shelf_of(db, room_id)) for room_id in room_ids]
        for room_id, entries in changed:
            items = [e.model_dump(mode="json") for e in entries]
            await self.ctx.bus.publish(Event("shelf.updated", {"room_id": room_id, "items": items}, to_room=True))

    async def _load(self, room_id: int) -> Shared:
        generation = self._generation.get(room_id, 0)
        self.loads += 1
        shared = await read_shared(self.ctx, room_id)
        if self._generation.get(room_id, 0) == generation:
            self._rooms[room_id] = shared
            if len(self._rooms) > 1000:  # rooms long over are not kept forever
                self._rooms.pop(next(iter(self._rooms)))
        return shared


async def read_shared(ctx: AppContext, room_id: int) -> Shared:
    """One read of everything a room's viewers share (NotFound for a room that does not exist)."""
    experiments = ctx.experiments
    async with ctx.db.session() as db:
        room = await rooms.get_room(db, room_id)
        running = experiments is not None and await experiments.any_running(db, room.host_id)
        entries = await shelf.shelf_of(db, room_id)
        sale = await flash.current_sale(db, room_id)
        sale_out = await flash.sale_out(db, sale, ctx) if sale else None
        drop = await coupons.active_drop(db, room_id)
        drop_out = await coupons.drop_out(db, drop) if drop else None
        open_draws = [d for d in await draws.draws_of_room(db, room_id) if d.state is DrawState.OPEN]
        draw_out = await draws.draw_out(db, open_draws[0]) if open_draws else None
    if sale is not None:
        await flash.warm(ctx, sale.id)  # the gate is ready before the crowd taps
    times = [t for t in (sale_out and sale_out.starts_at, sale_out and sale_out.ends_at) if t]
    times += [drop_out.closes_at] if drop_out else []
    times += [draw_out.closes_at] if draw_out else []
    shared = Shared(
        room_id=room.id,
        host_id=room.host_id,
        public=room.access_mode is AccessMode.PUBLIC,
        experiments=running,
        shelf=entries,
        sale=sale_out.model_dump(mode="json") if sale_out else None,
        drop=drop_out,
        draw=draw_out.model_dump(mode="json") if draw_out else None,
        expires=time.monotonic() + seconds_left(times),
        refresh_at=time.monotonic() + MAX_AGE,
    )
    return Shared(**{**_fields(shared), "body": encode(shared.as_dict(drop_out, {}))})


def _fields(shared: Shared) -> dict[str, Any]:
    return {name: getattr(shared, name) for name in Shared.__slots__}


def seconds_left(times: Iterable[datetime]) -> float:
    """How long a read stays true: until the first of ``times`` still ahead (infinity when none is)."""
    now = utcnow()
    return min(((t - now).total_seconds() for t in times if t > now), default=math.inf)


class ClaimLookups:
    """The value each viewer holds of a dropped coupon, for the viewers arriving together in one query per
    coupon (knowcast/batches.py); None when they hold none (or hold it at the coupon's own value)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._batches: Batches[tuple[int, int], int | None] = Batches(self._read, size=BATCH, window=WINDOW)

    @property
    def queries(self) -> int:
        return self._batches.reads

    async def held(self, coupon_id: int, user_id: int) -> int | None:
        return await self._batches.get((coupon_id, user_id))

    async def _read(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], int | None]:
        by_coupon: dict[int, list[int]] = {}
        for coupon_id, user_id in keys:
            by_coupon.setdefault(coupon_id, []).append(user_id)
        return await self.ctx.db.read(claims_now, by_coupon)


def claims_now(session: Session, by_coupon: dict[int, list[int]]) -> dict[tuple[int, int], int | None]:
    """(coupon, user) → the value of the user's claim, for the users asked about each coupon (synchronous:
    read with ``Database.read``); a claim without a value of its own holds None (the coupon's)."""
    found: dict[tuple[int, int], int | None] = {}
    connection = session.connection()
    for coupon_id, users in by_coupon.items():
        for user_id, value in connection.execute(_CLAIMS, {"coupon": coupon_id, "users": users}):
            found[(coupon_id, user_id)] = value
    return found


_CLAIMS = select(CouponClaim.user_id, CouponClaim.value).where(  # built once, reused by every batch
    CouponClaim.coupon_id == bindparam("coupon"), CouponClaim.user_id.in_(bindparam("users", expanding=True))
)
