"""Traffic channels and costs (issue 6 §4): share links whose QR code decodes to the link, cost per viewer and
per buyer, profit and ROI per stream and per channel checked by hand, and first- against last-touch
attribution of a buyer who came back through another channel."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

import zxingcpp
from PIL import Image, ImageDraw

from knowcast.accounts.models import Role
from knowcast.privacy.consent import COOKIE, GRANTED
from tests.analytics.conftest import Browser, Stage, new_room
from tests.analytics.test_report import PRODUCT, pay, watch

SCALE = 8


def rasterize(svg: bytes) -> Image.Image:
    """segno's SVG draws each row of dark modules as horizontal runs ("M x y.5 h n m dx dy h n ..."): redraw
    those runs on a white bitmap, so the QR code the host downloads can be decoded as a phone would."""
    root = ElementTree.fromstring(svg)
    path = next(el for el in root.iter() if el.tag.endswith("path"))
    width = int(float(root.attrib["width"])) // int(re.search(r"scale\((\d+)\)", path.attrib["transform"])[1])  # type: ignore[index]
    image = Image.new("L", (width * SCALE, width * SCALE), 255)
    draw = ImageDraw.Draw(image)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])\s*(-?[\d.]+)(?:\s+(-?[\d.]+))?", path.attrib["d"]):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            row = int(y)
            draw.rectangle((x * SCALE, row * SCALE, (x + float(a)) * SCALE - 1, (row + 1) * SCALE - 1), fill=0)
            x += float(a)
    return image


async def test_a_share_links_qr_code_decodes_to_the_link_with_its_channel(stage: Stage) -> None:
    body = {"source": "WeChat Group", "medium": "community", "campaign": "双11"}
    made = await stage.host.client.post(f"/api/v1/analytics/rooms/{stage.room_id}/links", json=body)
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["url"].endswith(
        f"/rooms/{stage.room_id}?utm_source=wechat_group&utm_medium=community&utm_campaign=%E5%8F%8C11"
    )
    svg = await stage.host.client.get(link["qr_url"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    decoded = [r.text for r in zxingcpp.read_barcodes(rasterize(svg.content))]
    assert decoded == [link["url"]]


async def test_costs_give_cost_per_viewer_and_buyer_profit_and_roi(
    stage: Stage, client_factory: Any, make_user: Any
) -> None:
    await stage.go_live()
    for i, source in enumerate(("wechat", "wechat", "douyin")):
        await watch(
            stage, Browser(client_factory(), stage.room_id, agent=f"Mozilla/5.0 (X11) v{i}"), 15, utm_source=source
        )
    buyer = await make_user(Role.VIEWER)
    buyer.client.cookies.set(COOKIE, GRANTED)
    await watch(stage, Browser(buyer.client, stage.room_id), 15, utm_source="douyin")
    await pay(stage, buyer.user.id, 7001, 9900)
    costs = f"/api/v1/analytics/rooms/{stage.room_id}/costs"
    for cost in (
        {"category": "ads", "channel": "wechat", "amount": 2000},
        {"category": "ads", "channel": "douyin", "amount": 3000},
        {"category": "ads", "channel": "weibo", "amount": 500},  # spent, brought nobody
        {"category": "host_fee", "amount": 1000, "note": "主播"},
    ):
        assert (await stage.host.client.post(costs, json=cost)).status_code == 201
    await stage.flush()
    report = (await stage.host.client.get(f"/api/v1/analytics/rooms/{stage.room_id}/report")).json()
    money = report["costs"]
    assert (money["total"], money["ad_spend"], money["profit"]) == (6500, 5500, 9900 - 6500)
    assert money["roi"] == (9900 - 6500) / 6500 and money["ad_roi"] == (9900 - 5500) / 5500
    assert money["cost_per_viewer"] == 6500 / 4 and money["cost_per_buyer"] == 6500
    channels = {row["channel"]: row for row in report["channels"]}
    douyin, wechat, weibo = channels["douyin"], channels["wechat"], channels["weibo"]
    assert (douyin["uv"], douyin["buyers"], douyin["gmv"], douyin["spend"]) == (2, 1, 9900, 3000)
    assert douyin["cost_per_viewer"] == 1500 and douyin["cost_per_buyer"] == 3000
    assert douyin["roi"] == (9900 - 3000) / 3000 and douyin["conversion"] == 0.5
    assert (wechat["uv"], wechat["cost_per_viewer"], wechat["cost_per_buyer"], wechat["roi"]) == (2, 1000, None, -1.0)
    assert (weibo["uv"], weibo["spend"], weibo["cost_per_viewer"], weibo["roi"]) == (0, 500, None, -1.0)


async def test_first_touch_credits_the_channel_that_brought_the_buyer_first(stage: Stage, make_user: Any) -> None:
    buyer = await make_user(Role.VIEWER)
    buyer.client.cookies.set(COOKIE, GRANTED)  # consented: the same visitor id across streams
    await stage.go_live()
    await watch(stage, Browser(buyer.client, stage.room_id), 15, utm_source="wechat")
    await stage.transition("ended")
    second = Stage(stage.host, await new_room(stage.host), stage.ctx)
    await second.go_live()
    await second.publish("shelf.updated", items=[{"product": PRODUCT}])
    await watch(second, Browser(buyer.client, second.room_id), 15, utm_source="douyin")
    await pay(second, buyer.user.id, 7101, 9900)
    await second.flush()
    url = f"/api/v1/analytics/rooms/{second.room_id}/report"
    last = {row["channel"]: row["gmv"] for row in (await second.host.client.get(url)).json()["channels"]}
    first = {
        row["channel"]: row["gmv"] for row in (await second.host.client.get(f"{url}?model=first")).json()["channels"]
    }
    assert last == {"douyin": 9900} and first == {"wechat": 9900}
