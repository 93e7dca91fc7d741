"""The events other domains publish for analytics (docs/analytics.md, "Bus events consumed"), published here on
the bus as commerce, interaction and growth do after their commits: per-product sales from the order lines,
coupons and flash sales, unpaid closes, refunds, order variants, coupon claims and draw entries by viewer."""

from __future__ import annotations

from typing import Any

from knowcast.accounts.models import Role
from knowcast.context import AppContext
from tests.analytics.conftest import Browser, Stage
from tests.analytics.test_report import buyer_page, watch
from tests.commerce.conftest import Shop, pay

COURSE = {"id": 601, "host_id": 0, "kind": "course", "title": "理财课", "price": 9900}
EBOOK = {"id": 602, "host_id": 0, "kind": "ebook", "title": "记账手册", "price": 2900}


def order(stage: Stage, order_id: int, user_id: int, lines: list[tuple[dict[str, Any], int, int]], **extra: Any) -> Any:
    """An order event's data as commerce.order_events builds it: lines are (product, quantity, unit price)."""
    items = [{"product_id": p["id"], "quantity": q, "unit_price": u} for p, q, u in lines]
    subtotal = sum(q * u for _p, q, u in lines)
    discount = extra.pop("discount", 0)
    data = {
        "order_id": order_id,
        "user_id": user_id,
        "host_id": stage.host.user.id,
        "total": subtotal - discount,
        "currency": "CNY",
        "state": "pending",
        "source": "room",
        "items": items,
        "coupon_id": None,
        "flash_sale_id": None,
        "discount": discount,
        "subtotal": subtotal,
        "variants": {},
    }
    return {**data, **extra}


async def publish_order(stage: Stage, names: tuple[str, ...], data: dict[str, Any]) -> None:
    for name in names:
        await stage.publish(name, **data)


async def shop_stream(stage: Stage, client_factory: Any, make_user: Any) -> tuple[Any, Any]:
    """Four viewers; A buys the course and two e-books with a coupon, B an e-book in a flash sale and lets a
    course order expire."""
    await stage.go_live()
    await stage.publish("shelf.updated", items=[{"product": COURSE}, {"product": EBOOK}])
    await stage.publish("coupon.drop_started", drop={"id": 31, "coupon": {"id": 7, "code": "SAVE17"}})
    for i in range(2):
        await watch(stage, Browser(client_factory(), stage.room_id, agent=f"Mozilla/5.0 (X11) look-{i}"), 15)
    a, page_a = await buyer_page(stage, make_user)
    b, page_b = await buyer_page(stage, make_user)
    await watch(stage, page_a, 15)
    await watch(stage, page_b, 15)
    await stage.publish("coupon.claimed", drop_id=31, user_id=a.user.id)  # coupon id learned from the drop
    both = order(stage, 1, a.user.id, [(COURSE, 1, 9900), (EBOOK, 2, 2900)], discount=1700, coupon_id=7)
    await publish_order(stage, ("order.created", "order.paid"), both)
    flash = order(stage, 2, b.user.id, [(EBOOK, 1, 1990)], flash_sale_id=3, source="flash")
    await publish_order(stage, ("order.created", "order.paid"), flash)
    await publish_order(stage, ("order.created", "order.expired"), order(stage, 3, b.user.id, [(COURSE, 1, 9900)]))
    return a, b


async def test_per_product_sales_come_from_the_order_lines(stage: Stage, client_factory: Any, make_user: Any) -> None:
    await shop_stream(stage, client_factory, make_user)
    live = await stage.live()
    top = {p["product_id"]: p for p in live["top_products"]}
    # order 1 paid 14,000 for 15,700 listed: the course line gets 14000 × 9900 // 15700, the e-books the rest
    course, ebook = top[COURSE["id"]], top[EBOOK["id"]]
    assert (course["units"], course["gmv"], course["buyers"], course["unpaid"]) == (1, 8828, 1, 1)
    assert (ebook["units"], ebook["gmv"], ebook["buyers"], ebook["unpaid"]) == (3, 14000 - 8828 + 1990, 2, 0)
    assert course["conversion"] == 1 / 4 and ebook["conversion"] == 2 / 4  # the product's buyers / UV
    assert course["title"] == "理财课" and [p["product_id"] for p in live["top_products"]][:2] == [601, 602]
    assert (live["gmv"], live["orders_unpaid"], live["coupons_claimed"]) == (15990, 1, 1)
    assert None not in top  # no "unknown product" line: every order named its products

    await stage.flush()
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    rows = {p["product_id"]: p for p in report["products"]}
    assert set(rows) == {COURSE["id"], EBOOK["id"]}
    assert sum(p["gmv"] for p in report["products"]) == report["summary"]["gmv"] == 15990
    for key in ("units", "gmv", "buyers", "conversion", "unpaid"):
        assert rows[COURSE["id"]][key] == course[key] and rows[EBOOK["id"]][key] == ebook[key], key
    assert (rows[COURSE["id"]]["orders"], rows[COURSE["id"]]["paid"]) == (2, 1)
    promos = {(p["kind"], p["id"]): p for p in report["promotions"]}
    coupon = promos[("coupon", 7)]
    assert (coupon["label"], coupon["claims"], coupon["paid"], coupon["units"]) == ("SAVE17", 1, 1, 3)
    assert (coupon["gmv"], coupon["discount"], coupon["use_rate"]) == (14000, 1700, 1.0)
    sale = promos[("flash", 3)]
    assert (sale["paid"], sale["units"], sale["gmv"], sale["claims"]) == (1, 1, 1990, 0)


async def test_a_refund_comes_off_its_products_and_promotion(stage: Stage, client_factory: Any, make_user: Any) -> None:
    _a, b = await shop_stream(stage, client_factory, make_user)
    flash = order(stage, 2, b.user.id, [(EBOOK, 1, 1990)], flash_sale_id=3, state="refunded")
    await stage.publish("order.refunded", **flash)
    await stage.flush()
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    ebook = next(p for p in report["products"] if p["product_id"] == EBOOK["id"])
    assert (ebook["gmv"], ebook["refunds"], ebook["buyers"]) == (14000 - 8828 + 1990, 1990, 2)  # GMV is before refunds
    assert report["summary"]["net_gmv"] == 15990 - 1990
    sale = next(p for p in report["promotions"] if p["kind"] == "flash")
    assert sale["refunds"] == 1990


async def test_the_csv_and_the_card_carry_the_product_table(stage: Stage, client_factory: Any, make_user: Any) -> None:
    await shop_stream(stage, client_factory, make_user)
    text = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report.csv")).text
    header = next(line for line in text.splitlines() if line.startswith("products,"))
    assert {"units", "gmv", "buyers", "conversion", "unpaid"} <= set(header.split(","))
    assert "products,601,理财课,course," in text and "\npromotions,kind,id,label,claims" in text


async def test_order_variants_convert_in_the_variant_the_buyer_saw(stage: Stage, make_user: Any) -> None:
    body = {"name": "价格", "subject": "price", "variants": [{"key": "a"}, {"key": "b"}]}
    made = (await stage.host.client.post("/api/v1/analytics/experiments", json=body)).json()
    await stage.go_live()
    exposed, page = await buyer_page(stage, make_user)
    shown = (await exposed.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/assignments")).json()
    variant = shown["assignments"][0]["variant"]
    await watch(stage, page, 15)
    late, late_page = await buyer_page(stage, make_user)  # never asked for assignments: checkout stamped one
    await watch(stage, late_page, 15)
    other = "b" if variant == "a" else "a"
    first = order(stage, 11, exposed.user.id, [(COURSE, 1, 9900)], variants={made["key"]: variant})
    second = order(stage, 12, late.user.id, [(COURSE, 1, 8900)], variants={made["key"]: other, "x-gone": "z"})
    await publish_order(stage, ("order.created", "order.paid"), first)
    await publish_order(stage, ("order.created", "order.paid"), second)
    await stage.flush()
    result = (await stage.host.client.get(f"/api/v1/analytics/experiments/{made['id']}")).json()
    by_key = {v["key"]: v for v in result["variants"]}
    assert (by_key[variant]["exposures"], by_key[variant]["conversions"], by_key[variant]["revenue"]) == (1, 1, 9900)
    assert (by_key[other]["exposures"], by_key[other]["conversions"], by_key[other]["revenue"]) == (1, 1, 8900)


async def test_coupon_claims_and_draw_entries_are_the_viewers(stage: Stage, make_user: Any) -> None:
    await stage.go_live()
    fan, page = await buyer_page(stage, make_user)
    await watch(stage, page, 15)
    assert (await stage.live())["interaction_rate"] == 0
    await stage.publish("draw.entered", draw_id=5, user_id=fan.user.id)
    await stage.publish("coupon.claimed", drop_id=99, coupon_id=8, user_id=fan.user.id)
    live = await stage.live()
    assert live["interaction_rate"] == 1.0 and live["coupons_claimed"] == 1  # a draw entry is an interaction
    await stage.flush()
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    assert report["summary"]["interaction_rate"] == 1.0
    assert [(p["kind"], p["id"], p["claims"]) for p in report["promotions"]] == [("coupon", 8, 1)]


async def test_malformed_order_lines_are_read_safely(stage: Stage, make_user: Any) -> None:
    """Whatever a buggy publisher sends, analytics neither crashes nor invents money: lines it cannot read are
    skipped and the order's total is what counts."""
    await stage.go_live()
    buyer, page = await buyer_page(stage, make_user)
    await watch(stage, page, 15)
    weird = order(stage, 21, buyer.user.id, [(COURSE, 1, 9900)], variants="all", coupon_id="7; DROP")
    weird["discount"] = True
    weird["items"] += [
        {"product_id": "602", "quantity": 1, "unit_price": 100},
        {"product_id": 603, "quantity": -4, "unit_price": "free"},
        {"product_id": True, "quantity": 1},
        "not a line",
    ]
    await publish_order(stage, ("order.created", "order.paid"), weird)
    await stage.flush()
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    lines = {p["product_id"]: (p["units"], p["gmv"]) for p in report["products"]}
    assert lines == {COURSE["id"]: (1, 9900), 603: (1, 0)}  # a negative quantity reads as one, no price as 0
    assert report["summary"]["gmv"] == 9900 and report["promotions"] == []
    outsider = await make_user(Role.VIEWER)  # never watched: not attributed, not in any figure
    await publish_order(stage, ("order.created", "order.paid"), order(stage, 22, outsider.user.id, [(EBOOK, 1, 2900)]))
    await stage.flush()
    again = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    assert again["summary"]["gmv"] == 9900


async def test_a_real_order_through_commerce_fills_the_product_table(
    shop: Shop, make_user: Any, webhook_server: str, ctx: AppContext
) -> None:
    """End to end: a two-line order made and paid through commerce's API and the sandbox's signed webhook."""
    workbook = await shop.shelved(kind="item", title="预算手册", stock=5, price=1990)
    planner = await shop.shelved(kind="item", title="年度计划本", stock=5, price=4900)
    stage = Stage(shop.host, shop.room_id, ctx)
    await stage.go_live()
    buyer, page = await buyer_page(stage, make_user)
    await watch(stage, page, 15)
    lines = [{"product_id": workbook["id"], "quantity": 2}, {"product_id": planner["id"], "quantity": 1}]
    created = await buyer.client.post("/api/v1/orders", json={"items": lines, "room_id": shop.room_id})
    assert created.status_code == 201, created.text
    assert (await pay(buyer.client, created.json()["id"]))["state"] in ("paid", "fulfilled")
    await stage.flush()
    report = (await shop.host.client.get(f"/api/v1/analytics/rooms/{shop.room_id}/report")).json()
    rows = {p["product_id"]: p for p in report["products"]}
    assert set(rows) == {workbook["id"], planner["id"]}
    assert (rows[workbook["id"]]["title"], rows[workbook["id"]]["units"], rows[workbook["id"]]["gmv"]) == (
        "预算手册",
        2,
        3980,
    )
    assert (rows[planner["id"]]["units"], rows[planner["id"]]["gmv"], rows[planner["id"]]["buyers"]) == (1, 4900, 1)
    assert report["summary"]["gmv"] == 3980 + 4900 and report["summary"]["buyers"] == 1
    assert rows[workbook["id"]]["conversion"] == 1.0  # one viewer, who bought it


async def test_a_deleted_buyer_stays_one_unlinkable_buyer_of_their_products(
    stage: Stage, client_factory: Any, make_user: Any
) -> None:
    from sqlalchemy import func, select

    from knowcast.analytics import models as m
    from knowcast.analytics.identity import user_key

    a, _b = await shop_stream(stage, client_factory, make_user)
    await stage.flush()
    await stage.publish("user.deleted", user_id=a.user.id)
    await stage.flush()
    key = user_key(stage.ctx.settings.secret_key, a.user.id)
    B = m.RoomProductBuyer
    async with stage.ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(B).where(B.buyer == key)) == 0
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    assert {p["product_id"]: p["buyers"] for p in report["products"]} == {COURSE["id"]: 1, EBOOK["id"]: 2}
