"""The room's commerce snapshot for a join storm (issue 16, point 2): the part every viewer gets the same is
built once per process and dropped by the events that change it — in every process within the tick that
carries them (two apps sharing Redis, below) — and a viewer's own part is looked up for many viewers at once
and never reaches another viewer. The fast path answers as the FastAPI route does."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import update

from knowcast.accounts.models import Role
from knowcast.app import create_app
from knowcast.catalog import service as catalog
from knowcast.catalog.schemas import ProductUpdate
from knowcast.commerce import flash, orders, shelf
from knowcast.commerce.promotions import CouponClaim
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.schemas import FlashSaleCreate, ItemIn, OrderCreate
from knowcast.commerce.snapshot_path import SnapshotFastPath
from knowcast.context import AppContext
from knowcast.realtime.hub import Hub
from knowcast.rooms import service as rooms
from knowcast.settings import Settings
from tests.commerce.conftest import Shop
from tests.conftest import Member
from tests.services import require_redis


async def _route_answers(_self: SnapshotFastPath, _room_id: int, _scope: Any) -> None:
    return None  # the fast path steps aside: the FastAPI route (the reference) answers


async def _shop_with_everything(shop: Shop) -> dict[str, Any]:
    """A shelf of two, one pinned, a running sale and an open coupon drop."""
    first = await shop.shelved(title="理财入门课", price=19900, stock=50, description="**第一课**")
    await shop.shelved(title="读书会年卡", price=36500, stock=50)
    await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/pin", json={"product_id": first["id"]})
    await shop.sale(first["id"], stock=10)
    coupon = {"code": "JOIN5", "kind": "fixed", "value": 500, "ends_at": "2099-01-01T00:00:00Z", "claim_required": True}
    coupon_id = (await shop.host.client.post("/api/v1/coupons", json=coupon)).json()["id"]
    drop = {"coupon_id": coupon_id, "quantity": 100, "claim_seconds": 600}
    response = await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/coupon-drops", json=drop)
    assert response.status_code == 201, response.text
    return {"product": first, "coupon_id": coupon_id, "drop_id": response.json()["id"]}


async def test_the_fast_path_answers_as_the_route_does(
    shop: Shop, make_user: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await _shop_with_everything(shop)
    viewer: Member = await make_user(Role.VIEWER)
    assert (await viewer.client.post(f"/api/v1/coupon-drops/{made['drop_id']}/claim")).status_code == 200
    path = f"/api/v1/rooms/{shop.room_id}/commerce"
    fast = [await who.get(path) for who in (client, viewer.client)]
    with monkeypatch.context() as patched:
        patched.setattr(SnapshotFastPath, "_answer", _route_answers)
        slow = [await who.get(path) for who in (client, viewer.client)]
    for quick, reference in zip(fast, slow, strict=True):
        assert quick.status_code == reference.status_code == 200
        assert quick.json() == reference.json()
        assert quick.json()["shelf"][0]["pinned"] and quick.json()["sale"]["status"] == "running"
        assert quick.json()["drop"]["coupon"]["value"] == 500
        assert quick.headers["x-content-type-options"] == "nosniff" and quick.headers["x-request-id"]
    assert (await client.get("/api/v1/rooms/999999/commerce")).status_code == 404  # the route's answer


async def test_a_crowd_shares_one_read_until_a_pin_changes_it(shop: Shop, ctx: AppContext, client: Any) -> None:
    made = await _shop_with_everything(shop)
    snapshots = ctx.runtime(CommerceRuntime).snapshots
    assert snapshots is not None
    path = f"/api/v1/rooms/{shop.room_id}/commerce"
    await ctx.runtime(Hub).flush()  # the host's events have ridden their tick (which drops the copy once more)
    await client.get(path)
    loads = snapshots.loads
    answers = await asyncio.gather(*(client.get(path) for _ in range(40)))
    assert {a.status_code for a in answers} == {200} and snapshots.loads == loads  # no read per viewer
    other = next(e for e in answers[0].json()["shelf"] if not e["pinned"])
    await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/pin", json={"product_id": other["product"]["id"]})
    pinned = [e["product"]["id"] for e in (await client.get(path)).json()["shelf"] if e["pinned"]]
    assert pinned == [other["product"]["id"]] != [made["product"]["id"]]  # at once in this process
    assert snapshots.loads == loads + 1


async def test_an_old_copy_is_given_while_one_read_replaces_it(shop: Shop, ctx: AppContext) -> None:
    """Past MAX_AGE the crowd is not made to wait for the read that refreshes it (in a storm it took 0.6 s,
    every five seconds); past a time it holds (a sale starting or ending) nobody gets it."""
    await _shop_with_everything(shop)
    snapshots = ctx.runtime(CommerceRuntime).snapshots
    assert snapshots is not None
    await ctx.runtime(Hub).flush()
    old = dataclasses.replace(await snapshots.get(shop.room_id), refresh_at=0.0)
    snapshots._rooms[shop.room_id] = old
    loads = snapshots.loads
    crowd = await asyncio.gather(*(snapshots.get(shop.room_id) for _ in range(20)))
    assert all(copy is old for copy in crowd)  # given at once
    for _ in range(100):  # the one read behind them
        if snapshots._rooms[shop.room_id] is not old:
            break
        await asyncio.sleep(0.01)
    fresh = await snapshots.get(shop.room_id)
    assert fresh is not old and fresh.refresh_at > 0 and snapshots.loads == loads + 1
    snapshots._rooms[shop.room_id] = dataclasses.replace(fresh, expires=0.0)  # the sale's end has come
    assert await snapshots.get(shop.room_id) is not fresh and snapshots.loads == loads + 2


async def test_a_viewer_never_sees_another_viewers_own_part(shop: Shop, ctx: AppContext, make_user: Any) -> None:
    """Thirty viewers arrive together; one holds the dropped coupon at a value of their own (a coupon-value
    experiment fixed it at the claim). Only they see it; the claims of the crowd are read in one query."""
    made = await _shop_with_everything(shop)
    viewers: list[Member] = [await make_user(Role.VIEWER) for _ in range(30)]
    lucky = viewers[7]
    assert (await lucky.client.post(f"/api/v1/coupon-drops/{made['drop_id']}/claim")).status_code == 200
    async with ctx.db.session() as session:
        await session.execute(update(CouponClaim).where(CouponClaim.user_id == lucky.user.id).values(value=321))
        await session.commit()
    claims = ctx.runtime(CommerceRuntime).claims
    assert claims is not None
    before = claims.queries
    path = f"/api/v1/rooms/{shop.room_id}/commerce"
    answers = await asyncio.gather(*(v.client.get(path) for v in viewers))
    values = [a.json()["drop"]["coupon"]["value"] for a in answers]
    assert values[7] == 321 and values[:7] + values[8:] == [500] * 29
    assert claims.queries - before < 5  # batched: not one query per viewer
    held = [a.json()["mine"]["coupons"] for a in answers]  # the coupons each holds: theirs alone, at their value
    assert [(c["code"], c["value"]) for c in held[7]] == [("JOIN5", 321)] and held[:7] + held[8:] == [[]] * 29


@pytest.fixture
async def two_processes(settings: Settings) -> AsyncIterator[tuple[AppContext, AppContext]]:
    """Two apps on one database and one Redis, as two `knowcast serve` processes are (each its own hub,
    caches and bus; only the room's ticks cross between them, through Redis)."""
    scaled = settings.model_copy(
        update={"redis_url": require_redis(), "realtime_redis_prefix": f"kc:test:{secrets.token_hex(4)}"}
    )
    async with AsyncExitStack() as stack:
        apps = [create_app(scaled), create_app(scaled)]
        for one in apps:
            await stack.enter_async_context(one.router.lifespan_context(one))
        yield apps[0].state.ctx, apps[1].state.ctx


async def _delivered(here: AppContext, there: AppContext, room_id: int, seen: int) -> None:
    """Until ``there`` has received a tick past ``seen`` (the one ``here`` publishes now; nothing else happens in
    the room). Bounded; no timing is asserted."""
    await here.runtime(Hub).flush()
    for _ in range(500):
        if there.runtime(Hub).room(room_id).seq > seen:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the tick never reached the other process (still at {seen})")


async def test_every_process_drops_its_copy_within_the_tick_of_a_change(
    two_processes: tuple[AppContext, AppContext],
) -> None:
    """A pin, a sale start, a price change and a purchase, each made in process A: process B's cached
    snapshot is gone as soon as the tick carrying the event arrives, and its next read shows the change."""
    from knowcast.accounts import service as accounts
    from knowcast.accounts.schemas import SignUp
    from knowcast.catalog.schemas import ProductCreate
    from knowcast.db.types import utcnow
    from knowcast.rooms.schemas import RoomCreate

    a, b = two_processes
    tag = secrets.token_hex(3)
    async with a.db.session() as db:
        host = await accounts.create_user(
            db, a, SignUp(email=f"h{tag}@x.cn", password="p" * 12, display_name="主播"), Role.HOST
        )
        buyer = await accounts.create_user(db, a, SignUp(email=f"b{tag}@x.cn", password="p" * 12, display_name="小李"))
        room = await rooms.create_room(db, a, host, RoomCreate(title="两进程", scheduled_at=utcnow()))
        made = [
            await catalog.create_product(db, a, host, ProductCreate(kind="course", title=t, price=p, stock=20))  # type: ignore[arg-type]
            for t, p in (("课一", 1000), ("课二", 2000))
        ]
        for product in made:
            await shelf.add(db, a, room, product.id)
    snaps_b = b.runtime(CommerceRuntime).snapshots
    assert snaps_b is not None
    await b.runtime(Hub).open_room(room.id)

    async def change_in_a_then_read_b(change: Any) -> Any:
        await a.runtime(Hub).flush()  # the setup's own events have ridden their ticks (they drop B's copy too)
        for _ in range(100):
            before = await snaps_b.get(room.id)  # B holds a copy
            await asyncio.sleep(0.05)
            if snaps_b._rooms.get(room.id) is before:
                break
        assert snaps_b._rooms.get(room.id) is before
        seen = b.runtime(Hub).room(room.id).seq
        async with a.db.session() as db:
            await change(db)
        await _delivered(a, b, room.id, seen)
        assert snaps_b._rooms.get(room.id) is not before  # dropped by the tick, with no wait of its own
        return await snaps_b.get(room.id)

    pinned = await change_in_a_then_read_b(lambda db: shelf.pin(db, a, room, made[1].id, None))
    assert [e.product.id for e in pinned.shelf if e.pinned] == [made[1].id]

    sale = FlashSaleCreate(product_id=made[0].id, price=500, stock=5, duration_seconds=600)
    started = await change_in_a_then_read_b(lambda db: flash.create_sale(db, a, room, sale))
    assert started.sale is not None and started.sale["status"] == "running" and started.sale["price"] == 500

    async def reprice(db: Any) -> None:
        product = await catalog.get_product(db, made[1].id)
        await catalog.update_product(db, a, product, ProductUpdate(price=1500))

    repriced = await change_in_a_then_read_b(reprice)
    assert next(e.product.price for e in repriced.shelf if e.product.id == made[1].id) == 1500

    async def purchase(db: Any) -> None:
        data = OrderCreate(items=[ItemIn(product_id=made[1].id, quantity=1)], room_id=room.id)
        order = await orders.create_order(db, a, buyer, data)
        await orders.mark_paid(db, a, order)

    bought = await change_in_a_then_read_b(purchase)
    assert next(e.product.stock for e in bought.shelf if e.product.id == made[1].id) == 19
