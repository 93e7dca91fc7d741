"""Course content from the studio: lessons of every kind, their order, drip release counted from the purchase,
and uploaded lesson files served only to buyers whose lesson is open."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from knowcast.accounts.models import Role
from knowcast.catalog import service as catalog
from knowcast.commerce import entitlements, orders
from knowcast.commerce.models import Entitlement
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from tests.commerce.conftest import Shop

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


async def give(ctx: AppContext, user_id: int, product_id: int) -> None:
    """The buyer owns the course through a paid zero-total order (the grant path every paid order takes)."""
    async with ctx.db.session() as session:
        await orders.give_free(session, ctx, user_id, await catalog.get_product(session, product_id), None)


async def backdate(ctx: AppContext, user_id: int, days: int) -> None:
    async with ctx.db.session() as session:
        since = utcnow() - timedelta(days=days)
        await session.execute(update(Entitlement).where(Entitlement.user_id == user_id).values(starts_at=since))
        await session.commit()


async def lesson(shop: Shop, course_id: int, **body: Any) -> dict[str, Any]:
    response = await shop.host.client.post(f"/api/v1/products/{course_id}/lessons", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_lessons_of_every_kind_are_ordered_and_edited(shop: Shop) -> None:
    course = await shop.product(kind="course", title="理财入门", price=9900)
    text = await lesson(shop, course["id"], title="预算", body="**三个账户**")
    link = await lesson(shop, course["id"], title="答疑", kind="link", media_url="https://meet.example.com/x")
    video = await lesson(shop, course["id"], title="开篇", kind="video", media_url="https://v.example.com/1.mp4")
    client = shop.host.client
    no_link = await client.post(f"/api/v1/products/{course['id']}/lessons", json={"title": "x", "kind": "link"})
    assert no_link.status_code == 422
    no_video = await client.post(f"/api/v1/products/{course['id']}/lessons", json={"title": "x", "kind": "video"})
    assert no_video.status_code == 422 and no_video.json()["error"]["code"] == "lesson.content_missing"

    order = [video["id"], text["id"], link["id"]]
    moved = await client.put(f"/api/v1/products/{course['id']}/lessons/order", json={"lesson_ids": order})
    assert [item["id"] for item in moved.json()] == order
    partial = await client.put(f"/api/v1/products/{course['id']}/lessons/order", json={"lesson_ids": order[:2]})
    assert partial.status_code == 422 and partial.json()["error"]["code"] == "lesson.order_mismatch"

    edited = await client.patch(
        f"/api/v1/products/{course['id']}/lessons/{text['id']}", json={"title": "记账", "release_after_days": 3}
    )
    assert (edited.json()["title"], edited.json()["release_after_days"]) == ("记账", 3)
    assert (await client.delete(f"/api/v1/products/{course['id']}/lessons/{link['id']}")).status_code == 204
    listed = (await client.get(f"/api/v1/products/{course['id']}/lessons")).json()
    assert [item["title"] for item in listed] == ["开篇", "记账"]


async def test_another_host_cannot_touch_the_lessons(shop: Shop, make_user: Any) -> None:
    course = await shop.product(kind="course", title="课", price=100)
    first = await lesson(shop, course["id"], title="一")
    other = await make_user(Role.HOST)
    path = f"/api/v1/products/{course['id']}/lessons"
    assert (await other.client.post(path, json={"title": "x"})).status_code == 403
    assert (await other.client.patch(f"{path}/{first['id']}", json={"title": "x"})).status_code == 403
    assert (await other.client.delete(f"{path}/{first['id']}")).status_code == 403
    item = await shop.product(kind="item", title="不是课", price=100)
    refused = await shop.host.client.post(f"/api/v1/products/{item['id']}/lessons", json={"title": "x"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "product.not_a_course"


async def test_drip_release_counts_from_the_purchase(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    course = await shop.product(kind="course", title="21 天打卡", price=100)
    await lesson(shop, course["id"], title="第一天", body="现在就能学")
    later = await lesson(shop, course["id"], title="第八天", body="秘密内容", release_after_days=7)
    buyer, stranger = await make_user(Role.VIEWER), await make_user(Role.VIEWER)
    assert (await stranger.client.get(f"/api/v1/courses/{course['id']}")).status_code == 403
    await give(ctx, buyer.user.id, course["id"])

    view = (await buyer.client.get(f"/api/v1/courses/{course['id']}")).json()
    assert [(item["title"], item["locked"]) for item in view["lessons"]] == [("第一天", False), ("第八天", True)]
    assert view["lessons"][1]["body_html"] == "" and view["lessons"][1]["available_at"]
    early = await buyer.client.post(f"/api/v1/lessons/{later['id']}/complete")
    assert early.status_code == 409 and early.json()["error"]["code"] == "lesson.locked"
    page = await buyer.client.get(f"/library/courses/{course['id']}")
    assert "秘密内容" not in page.text and "已学 0 / 2 节" in page.text

    await backdate(ctx, buyer.user.id, days=8)
    view = (await buyer.client.get(f"/api/v1/courses/{course['id']}")).json()
    assert view["lessons"][1]["locked"] is False and "秘密内容" in view["lessons"][1]["body_html"]
    assert (await buyer.client.post(f"/api/v1/lessons/{later['id']}/complete")).status_code == 200
    page = await buyer.client.get(f"/library/courses/{course['id']}")
    assert "已学 1 / 2 节" in page.text


async def test_an_uploaded_lesson_video_reaches_only_its_buyer(shop: Shop, make_user: Any, ctx: AppContext) -> None:
    course = await shop.product(kind="course", title="视频课", price=100)
    form = {"title": "第一课", "kind": "video"}
    added = await shop.host.client.post(
        f"/studio/products/{course['id']}/lessons", data=form, files={"file": ("a.mp4", MP4, "video/mp4")}
    )
    assert added.status_code == 303, added.text
    not_video = await shop.host.client.post(
        f"/studio/products/{course['id']}/lessons", data=form, files={"file": ("a.mp4", b"<html>", "video/mp4")}
    )
    assert not_video.status_code == 422 and 'data-code="lesson.video_type"' in not_video.text
    drip = {"title": "第二课", "kind": "file", "release_after_days": "5"}
    await shop.host.client.post(
        f"/studio/products/{course['id']}/lessons", data=drip, files={"file": ("notes.pdf", b"%PDF-1.4", "x/y")}
    )
    buyer = await make_user(Role.VIEWER)
    await give(ctx, buyer.user.id, course["id"])
    view = (await buyer.client.get(f"/api/v1/courses/{course['id']}")).json()
    url = view["lessons"][0]["media_url"]
    assert re.match(r"^/downloads/\d+\?u=\d+&e=\d+&s=\w+$", url), url
    served = await buyer.client.get(url)
    assert served.status_code == 200 and served.content == MP4 and served.headers["content-type"] == "video/mp4"
    assert view["lessons"][1]["media_url"] is None  # locked: no link at all
    async with ctx.db.session() as session:  # a link signed for the locked lesson's file is refused all the same
        files = await catalog.files_of(session, course["id"])
        assert files == []  # lesson uploads are not a file product's downloads
        from knowcast.catalog import courses

        stored = await courses.lesson_files(session, course["id"])
    locked_file = stored[view["lessons"][1]["id"]]
    forged = entitlements.download_url(ctx, locked_file.id, buyer.user.id)
    assert (await buyer.client.get(forged)).status_code == 403
    stranger = await make_user(Role.VIEWER)
    assert (
        await stranger.client.get(entitlements.download_url(ctx, locked_file.id, stranger.user.id))
    ).status_code == 403


async def test_studio_product_pages(shop: Shop, make_user: Any) -> None:
    client = shop.host.client
    assert (await client.get("/studio/products")).status_code == 200
    assert 'data-testid="product-editor"' in (await client.get("/studio/products/new?kind=membership")).text
    bad = await client.post("/studio/products", data={"kind": "course", "title": "课", "price": "九块九"})
    assert bad.status_code == 422 and 'data-testid="form-error"' in bad.text
    no_days = await client.post("/studio/products", data={"kind": "membership", "title": "会员", "price": "99"})
    assert no_days.status_code == 422
    made = await client.post(
        "/studio/products", data={"kind": "course", "title": "课", "price": "19.9", "list_price": "29"}
    )
    assert made.status_code == 303
    product_id = int(made.headers["location"].split("/")[3].split("?")[0])
    product = (await client.get(f"/api/v1/products/{product_id}")).json()
    assert (product["price"], product["list_price"]) == (1990, 2900)
    saved = await client.post(
        f"/studio/products/{product_id}", data={"title": "新课名", "price": "9.90", "stock": "50", "is_active": "on"}
    )
    assert saved.status_code == 303
    product = (await client.get(f"/api/v1/products/{product_id}")).json()
    assert (product["title"], product["price"], product["stock"], product["is_active"]) == ("新课名", 990, 50, True)
    below = await client.post(f"/studio/products/{product_id}", data={"title": "x", "price": "99", "list_price": "1"})
    assert below.status_code == 422
    ticket = await client.post(
        "/studio/products", data={"kind": "ticket", "title": "门票", "price": "1", "room_id": str(shop.room_id)}
    )
    assert ticket.status_code == 303
    viewer = await make_user(Role.VIEWER)
    assert (await viewer.client.get("/studio/products")).status_code == 403
    assert (await viewer.client.get(f"/studio/products/{product_id}")).status_code == 403
