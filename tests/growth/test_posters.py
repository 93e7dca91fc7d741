"""Share posters: the QR code decodes back to the share link with its channel parameters (decoded here with
zxing-cpp), an overly long Chinese title is wrapped and shortened inside the poster, never mid-character."""

from __future__ import annotations

import io
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from knowcast.accounts.models import Role
from knowcast.growth import fonts, posters, textfit
from tests.growth.conftest import make_room
from tests.services import unavailable

LONG_TITLE = "零基础也能学会的家庭理财课：从记账、预算、应急金到指数基金定投，一步一步带你搭建属于自己的财务安全网" * 2


def _decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def _require_cjk_font() -> fonts.FontChoice:
    choice = fonts.find(None)
    if not choice.cjk:
        unavailable("no CJK font is installed (apt-get install fonts-noto-cjk)")
    return choice


async def test_room_poster_qr_decodes_to_the_share_link(make_user: Any) -> None:
    _require_cjk_font()
    host = await make_user(Role.HOST, name="王老师")
    room = await make_room(host, title=LONG_TITLE[:120], description="讲清楚钱从哪里来、到哪里去。" * 10)
    query = "source=WeChat Group&medium=social&campaign=spring"
    response = await host.client.get(f"/api/v1/rooms/{room['id']}/poster.png?{query}&locale=zh-CN")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-knowcast-poster-font"] == "cjk"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (posters.WIDTH, posters.HEIGHT)
    expected = f"http://127.0.0.1:8000/rooms/{room['id']}?utm_source=wechat_group&utm_medium=social&utm_campaign=spring"
    assert _decode(response.content) == [expected]
    again = await host.client.get(f"/api/v1/rooms/{room['id']}/poster.png?{query}&locale=zh-CN")
    assert again.content == response.content  # served from the poster cache
    english = await host.client.get(f"/api/v1/rooms/{room['id']}/poster.png?source=newsletter&locale=en")
    assert english.status_code == 200 and english.content != response.content
    assert _decode(english.content) == [f"http://127.0.0.1:8000/rooms/{room['id']}?utm_source=newsletter"]


def test_an_overly_long_chinese_title_fits_and_ends_with_an_ellipsis() -> None:
    choice = _require_cjk_font()
    face = fonts.load(choice, posters.TITLE_SIZE)
    width = posters.WIDTH - 2 * posters.MARGIN
    lines = textfit.fit(LONG_TITLE, face.getlength, width, posters.TITLE_LINES)
    assert len(lines) == posters.TITLE_LINES
    assert all(face.getlength(line) <= width for line in lines)
    assert lines[-1].endswith(textfit.ELLIPSIS)
    shown = "".join(lines)[:-1]
    assert LONG_TITLE.startswith(shown) and len(shown) > 30
    assert not lines[1].startswith(("，", "：", "、"))  # no line starts with closing punctuation

    spec = posters.PosterSpec(
        "zh-CN", LONG_TITLE, "2026-12-01 20:00 GMT+8", "scheduled", "王老师", "", "https://x.test/r/1", "Knowcast"
    )
    image = Image.open(io.BytesIO(posters.render(spec, choice))).convert("L")
    title_band = (posters.COVER_HEIGHT + 30, posters.COVER_HEIGHT + 40 + 3 * (posters.TITLE_SIZE + 14))
    for x in (*range(0, posters.MARGIN - 2), *range(posters.WIDTH - posters.MARGIN + 2, posters.WIDTH)):
        column = [image.getpixel((x, y)) for y in range(*title_band)]
        assert min(column) >= 250, f"ink outside the text box at x={x}"  # type: ignore[type-var]


@pytest.mark.parametrize(
    "text",
    [
        "Family 👨‍👩‍👧‍👦 budgeting " * 6,
        "Cafe\u0301 cre\u0300me brule\u0301e " * 8,
        "旗帜 🇨🇳🇯🇵🇺🇸 国旗 " * 10,
        "👍🏽👍🏿" * 40,
    ],
)
def test_shortening_never_splits_a_character(text: str) -> None:
    measure = lambda s: float(len(s.encode("utf-16-le")) // 2)  # noqa: E731  (a width that grows per code unit)
    for width in range(5, 60, 7):
        for line in textfit.fit(text, measure, width, 2):
            body = line.removesuffix(textfit.ELLIPSIS)
            assert "".join(textfit.graphemes(body)) == body
            assert text.replace("  ", " ").find(body.strip().split(" ")[0]) >= 0
            clusters = textfit.graphemes(text)
            prefix_clusters = textfit.graphemes(body.strip())
            assert all(c in clusters for c in prefix_clusters)  # every cluster is whole


async def test_channel_poster_and_bad_input(make_user: Any, client: Any) -> None:
    host, viewer = await make_user(Role.HOST), await make_user()
    room = await make_room(host)
    response = await host.client.get("/api/v1/channel/poster.png?source=weibo&locale=en")
    assert response.status_code == 200
    if response.headers["x-knowcast-poster-font"] == "cjk":
        assert _decode(response.content) == ["http://127.0.0.1:8000/?utm_source=weibo"]
    bad = await host.client.get(f"/api/v1/rooms/{room['id']}/poster.png?source=%21%21%21")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "poster.bad_source"
    assert (await host.client.get(f"/api/v1/rooms/{room['id']}/poster.png?locale=fr")).status_code == 422
    assert (await host.client.get(f"/api/v1/rooms/{room['id']}/poster.png?source={'x' * 65}")).status_code == 422
    assert (await viewer.client.get(f"/api/v1/rooms/{room['id']}/poster.png")).status_code == 403
    assert (await client.get(f"/api/v1/rooms/{room['id']}/poster.png")).status_code == 401


def test_without_a_cjk_font_the_poster_still_renders() -> None:
    """The fallback: Pillow's own font (a FontChoice without a path), Latin text, a QR code that still decodes."""
    spec = posters.PosterSpec(
        "en", "Budget basics", "2026-12-01 20:00 GMT+8", "live", "Ann", "", "https://x.test/r/9", "Knowcast"
    )
    png = posters.render(spec, fonts.FontChoice(None))
    assert _decode(png) == ["https://x.test/r/9"]
