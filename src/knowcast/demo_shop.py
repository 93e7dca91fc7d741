"""The demo room's shop: a shelf stocked with a course (with lessons), an e-book and a consultation, the course
pinned; and simulated buyers who buy from it over the real HTTP API and pay on the sandbox's hosted page.

Stocking runs once, before the server starts, through the catalog and commerce services (a second ``make demo``
finds the shelf stocked and leaves it). The buyers run inside the server beside the simulated audience.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import re
from collections.abc import Mapping
from datetime import timedelta

import httpx
from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast import csrf
from knowcast.accounts.models import User
from knowcast.catalog import courses
from knowcast.catalog import service as catalog
from knowcast.catalog.kinds import LessonKind, ProductKind
from knowcast.catalog.models import Product
from knowcast.catalog.schemas import LessonCreate, ProductCreate, SlotCreate
from knowcast.commerce import shelf
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.deps import SESSION_COOKIE
from knowcast.realtime.simulator import PageViews
from knowcast.rooms.models import Room

log = logging.getLogger(__name__)

COURSE_DESCRIPTION = """**十节课讲清个人理财的底层逻辑**：记账、预算、应急金、指数基金定投。

- 每节 15 分钟，手机上随时学
- 配套记账模板与练习
- 学完加入答疑群"""
LESSONS = (
    (
        "开篇：为什么你存不下钱",
        LessonKind.TEXT,
        "## 三个问题\n\n1. 钱去哪了？\n2. 要存多少？\n3. 存下来放哪？",
        None,
        None,
    ),
    ("第 1 课 · 三账户预算法", LessonKind.TEXT, "把收入分成**日常**、**储蓄**、**投资**三个账户。", None, None),
    ("第 2 课 · 记账模板（在线表格）", LessonKind.LINK, "", "https://example.com/knowcast-demo/budget-sheet", None),
    ("第 3 课 · 应急金要留多少", LessonKind.TEXT, "一般建议 3–6 个月的必要开支。", None, 1),
    ("第 4 课 · 指数基金入门", LessonKind.TEXT, "宽基指数、费率、跟踪误差，一次讲清。", None, 3),
    ("第 5 课 · 定投的纪律", LessonKind.TEXT, "定投不是择时，是纪律。", None, 7),
)
EBOOK = """# 30 天理财手册（示例电子书）

## 第一周：看清现金流
每天记一笔账，周末做一次复盘。

## 第二周：三账户预算
日常 / 储蓄 / 投资，按 5 : 3 : 2 起步。

## 第三周：应急金
先存够 3 个月必要开支。

## 第四周：开始定投
选一只宽基指数基金，每月固定日期买入。
"""
PALETTES = {
    ProductKind.COURSE: ((255, 94, 58), (255, 45, 85)),
    ProductKind.FILE: ((90, 200, 250), (0, 122, 255)),
    ProductKind.CONSULTATION: ((52, 199, 89), (10, 122, 58)),
}


def cover(kind: ProductKind) -> bytes:
    """A simple 16:10 gradient cover with a few shapes (the demo ships no pictures of its own)."""
    top, bottom = PALETTES[kind]
    image = Image.new("RGB", (640, 400))
    draw = ImageDraw.Draw(image)
    for y in range(400):
        mix = y / 399
        draw.line([(0, y), (640, y)], fill=tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)))
    draw.rounded_rectangle((48, 56, 300, 344), radius=24, fill=(255, 255, 255))
    for row in range(5):
        draw.rounded_rectangle((80, 100 + row * 44, 268 - row * 18, 120 + row * 44), radius=8, fill=top)
    draw.ellipse((380, 120, 560, 300), outline=(255, 255, 255), width=14)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def stock_shelf(session: AsyncSession, ctx: AppContext, owner: User, room: Room) -> list[Product]:
    """A course (lessons, some drip-released), an e-book and a consultation on the room's shelf, the course
    pinned. A shelf that already has products is left as it is."""
    if await shelf.shelf_of(session, room.id, active_only=False):
        return []
    course = await _product(
        session, ctx, owner, ProductKind.COURSE, "30 天理财入门课", 19900, 39900, COURSE_DESCRIPTION
    )
    for title, kind, body, url, days in LESSONS:
        data = LessonCreate(title=title, kind=kind, body=body, media_url=url, release_after_days=days)
        await courses.create_lesson(session, ctx, course, data, None)
    ebook = await _product(
        session, ctx, owner, ProductKind.FILE, "《30 天理财手册》电子书", 2990, 4990, "配套电子书，随买随下。"
    )
    await catalog.add_file(session, ctx, ebook, "30天理财手册.md", EBOOK.encode(), "text/markdown; charset=utf-8")
    consult = await _product(
        session, ctx, owner, ProductKind.CONSULTATION, "1 对 1 理财咨询 · 30 分钟", 29900, None, "帮你看一份家庭预算。"
    )
    start = (utcnow() + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)  # 20:00 Beijing
    for day in range(8):
        await catalog.add_slot(session, consult, SlotCreate(starts_at=start + timedelta(days=day), minutes=30))
    products = [course, ebook, consult]
    for product in products:
        await shelf.add(session, ctx, room, product.id)
    await shelf.pin(session, ctx, room, course.id, None)
    return products


async def _product(
    session: AsyncSession,
    ctx: AppContext,
    owner: User,
    kind: ProductKind,
    title: str,
    price: int,
    list_price: int | None,
    description: str,
) -> Product:
    data = ProductCreate(kind=kind, title=title, price=price, list_price=list_price, description=description)
    product = await catalog.create_product(session, ctx, owner, data)
    return await catalog.set_cover(session, ctx, product, cover(kind))


class DemoBuyers:
    """Now and then one of the signed-in simulated viewers buys something from the shelf: the order over the
    JSON API, then "pay" on the sandbox's hosted checkout page; the sandbox's signed webhook does the rest,
    so the room shows the purchase like any other."""

    def __init__(
        self,
        base: str,
        room_id: int,
        tokens: list[str],
        secret_key: str,
        every: float = 25.0,
        pages: Mapping[str, PageViews] | None = None,
    ) -> None:
        self.base = base
        self.room_id = room_id
        self.tokens = tokens
        self.secret_key = secret_key
        self.every = every
        self.pages = (
            pages if pages is not None else {}
        )  # the buyer's own room page, when the simulated audience reports views

    async def run(self) -> None:
        while True:
            await asyncio.sleep(random.uniform(0.6, 1.4) * self.every)
            # a buyer is someone in the room: with the audience reporting views, one whose page has opened
            inside = (
                [t for t in self.tokens if t in self.pages and self.pages[t].view_id] if self.pages else self.tokens
            )
            if not inside:
                continue
            try:
                await self.buy_once(random.choice(inside))
            except (httpx.HTTPError, KeyError, ValueError) as error:  # the demo goes on; the log says why
                log.info("demo buyer gave up", extra={"room_id": self.room_id, "error": str(error)})

    def _client(self, token: str) -> httpx.AsyncClient:
        nonce = csrf.new_nonce()
        return httpx.AsyncClient(
            base_url=self.base,
            timeout=10,
            cookies={SESSION_COOKIE: token, csrf.COOKIE: nonce},
            headers={csrf.HEADER: csrf.token_for(self.secret_key, nonce), "Accept": "application/json"},
        )

    async def buy_once(self, token: str) -> int | None:
        """One purchase; returns the order id, or None when there was nothing to buy."""
        async with self._client(token) as client:
            item = await self._choose(client)
            if item is None:
                return None
            page = self.pages.get(token)
            if page is not None:
                await page.click(int(str(item["product_id"])))
            order = (await client.post("/api/v1/orders", json={"items": [item], "room_id": self.room_id})).json()
            checkout = (await client.post(f"/api/v1/orders/{order['id']}/checkout")).json()
            path = re.sub(r"^https?://[^/]+", "", checkout["checkout_url"])
            form = {"action": "pay", "csrf_token": client.headers[csrf.HEADER]}
            await client.post(path, data=form, headers={"Accept": "text/html"})
            return int(order["id"])

    async def _choose(self, client: httpx.AsyncClient) -> dict[str, object] | None:
        shelf_items = (await client.get(f"/api/v1/rooms/{self.room_id}/shelf")).json()
        products = [entry["product"] for entry in shelf_items if entry["product"]["kind"] != "consultation"]
        consults = [entry["product"] for entry in shelf_items if entry["product"]["kind"] == "consultation"]
        if consults and random.random() < 0.2:
            slots = (await client.get(f"/api/v1/products/{consults[0]['id']}/slots")).json()
            free = [slot["id"] for slot in slots if slot["available"]]
            if free:
                return {"product_id": consults[0]["id"], "slot_id": free[0], "note": "想聊聊家庭预算"}
        if not products:
            return None
        pinned = [entry["product"] for entry in shelf_items if entry.get("pinned")]
        choice = pinned[0] if pinned and random.random() < 0.6 else random.choice(products)
        return {"product_id": choice["id"]}
