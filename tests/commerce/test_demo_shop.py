"""The demo's shop: the shelf it stocks (a course with lessons, an e-book, a consultation, the course pinned), and
a simulated buyer who buys over real HTTP and pays on the sandbox's hosted page."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from knowcast.catalog import service as catalog
from knowcast.commerce import shelf
from knowcast.context import AppContext
from knowcast.demo_shop import DemoBuyers, stock_shelf
from knowcast.deps import SESSION_COOKIE
from knowcast.rooms import service as rooms
from tests.commerce.conftest import Shop, wait_for_state


async def test_the_demo_shelf_is_stocked_once_and_the_course_is_pinned(shop: Shop, ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        room = await rooms.get_room(session, shop.room_id)
        host = await session.get(type(shop.host.user), shop.host.user.id)
        assert host is not None
        stocked = await stock_shelf(session, ctx, host, room)
        assert [p.kind.value for p in stocked] == ["course", "file", "consultation"]
        assert all(p.cover_path for p in stocked)
        assert len(await catalog.lessons_of(session, stocked[0].id)) == 6
        assert len(await catalog.files_of(session, stocked[1].id)) == 1
        assert len(await catalog.slots_of(session, stocked[2].id)) == 8
        entries = await shelf.shelf_of(session, room.id)
        assert [(e.product.title, e.pinned) for e in entries] == [
            ("30 天理财入门课", True),
            ("《30 天理财手册》电子书", False),
            ("1 对 1 理财咨询 · 30 分钟", False),
        ]
        assert await stock_shelf(session, ctx, host, room) == []  # a second demo run leaves it alone
        assert len(await shelf.shelf_of(session, room.id)) == 3


async def test_a_demo_buyer_buys_and_pays_over_http(
    shop: Shop, ctx: AppContext, make_user: Any, webhook_server: str
) -> None:
    async with ctx.db.session() as session:
        room = await rooms.get_room(session, shop.room_id)
        host = await session.get(type(shop.host.user), shop.host.user.id)
        assert host is not None
        await stock_shelf(session, ctx, host, room)
    buyer = await make_user(Role.VIEWER)
    token = buyer.client.cookies[SESSION_COOKIE]
    buyers = DemoBuyers(webhook_server, shop.room_id, [token], ctx.settings.secret_key)
    order_id = await buyers.buy_once(token)
    assert order_id is not None
    paid = await wait_for_state(buyer.client, order_id, {"paid", "fulfilled"})
    assert paid["room_id"] == shop.room_id
    library = (await buyer.client.get("/api/v1/library")).json()
    assert len(library) == 1
