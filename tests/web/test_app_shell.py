"""The app shell around every page: icons from the bundled sprite, favicon, app icons and the web app manifest,
the one-line header with the viewer's menu, and sign-in / sign-up coming back to where the viewer was."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from knowcast.accounts.models import Role
from knowcast.web.pages.auth import safe_next
from knowcast.web.templating import ICON_NAMES, STATIC_DIR
from tests.conftest import PASSWORD


async def test_manifest_makes_the_site_installable(client: Any) -> None:
    response = await client.get("/manifest.webmanifest", headers={"accept-language": "en"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["display"] == "standalone" and manifest["start_url"].startswith("/")
    assert manifest["lang"] == "en" and manifest["theme_color"] == "#ff2d55"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        served = await client.get(icon["src"])
        assert served.status_code == 200, icon["src"]
        if icon["type"] == "image/png":
            assert served.content[:8] == b"\x89PNG\r\n\x1a\n"
            width = int.from_bytes(served.content[16:20], "big")  # the IHDR chunk: the PNG is the size it says
            assert f"{width}x{width}" == icon["sizes"]
    zh = (await client.get("/manifest.webmanifest", headers={"accept-language": "zh-CN"})).json()
    assert zh["lang"] == "zh-CN" and zh["description"] != manifest["description"]


async def test_favicon_and_touch_icon_answer_at_the_addresses_browsers_ask(client: Any) -> None:
    for path in ("/favicon.ico", "/apple-touch-icon.png"):
        response = await client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert response.content[:4] == b"\x89PNG"
    page = (await client.get("/")).text
    assert 'rel="icon"' in page and 'rel="manifest" href="/manifest.webmanifest"' in page
    assert 'rel="apple-touch-icon"' in page


async def test_the_logo_is_in_the_page_itself_not_one_more_request(client: Any) -> None:
    """Favicon and top-bar mark are the logo as a data: URI: a crowd opening a room asks for one file less."""
    page = (await client.get("/")).text
    uris = re.findall(r'<link rel="icon" href="(data:[^"]+)"|<a class="brand"[^>]*><img src="(data:[^"]+)"', page)
    assert len(uris) == 2
    favicon, brand = uris[0][0], uris[1][1]
    assert favicon == brand and favicon.startswith("data:image/svg+xml,")
    svg = unquote(favicon.split(",", 1)[1])
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and 'stop-color="#ff2d55"' in svg
    assert "logo" not in re.sub(r'data:[^"]+', "", page).split("<body", 1)[0]  # no logo file linked in the head


async def test_icons_come_from_the_sprite_not_emoji(make_user: Any) -> None:
    built = json.loads((STATIC_DIR / "dist" / "manifest.json").read_text())["dist/icons.svg"]["file"]
    sprite = (STATIC_DIR / built).read_text(encoding="utf-8")
    assert set(re.findall(r'<symbol id="([a-z0-9-]+)"', sprite)) == ICON_NAMES
    member = await make_user()
    page = (await member.client.get("/")).text
    assert "🔔" not in page and "❤" not in page
    used = set(re.findall(r'<use href="/static/dist/icons-[A-Za-z0-9_-]+\.svg#([a-z0-9-]+)"', page))
    assert {"bell", "receipt", "library"} <= used <= ICON_NAMES


# pictographs and dingbats (❤ ✓ 👤 🔔 …) render as empty boxes on some phones; the pages use the sprite instead
EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")


def test_no_emoji_stands_in_for_an_icon_in_templates_browser_code_or_catalogs() -> None:
    web = STATIC_DIR.parent
    sources = [*web.glob("templates/*.html"), *STATIC_DIR.glob("js/*.js"), *STATIC_DIR.glob("css/*.css")]
    sources += [*web.glob("locales/*.json")]
    assert len(sources) > 50
    found = [
        f"{path.name}:{n}: {line.strip()[:80]}"
        for path in sources
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if EMOJI.search(line)
    ]
    assert found == []


def test_an_unknown_icon_is_a_bug_caught_at_render(app: Any) -> None:
    with pytest.raises(ValueError, match=r"icons\.txt"):
        app.state.pages.icon("no-such-icon")
    labelled = str(app.state.pages.icon("heart", label='Like "it"'))
    assert 'role="img" aria-label="Like &#34;it&#34;"' in labelled


async def test_viewer_menu_has_orders_and_library(make_user: Any) -> None:
    viewer = await make_user(Role.VIEWER, name="小红")
    page = (await viewer.client.get("/")).text
    for href, testid in (("/orders", "nav-orders"), ("/library", "nav-library"), ("/account", "nav-settings")):
        assert f'<a href="{href}" data-testid="{testid}">' in page
    assert "我的订单" in page and "我的已购" in page
    assert 'data-testid="nav-studio"' not in page  # a viewer has no studio
    host = await make_user(Role.HOST)
    assert 'data-testid="nav-studio"' in (await host.client.get("/")).text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/rooms/7", "/rooms/7"),
        ("/rooms/7?ref=share&x=1", "/rooms/7?ref=share&x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("/rooms/1\\x", "/"),
        ("/rooms/1\r\nSet-Cookie: a=b", "/"),
        ("javascript:alert(1)", "/"),
        ("rooms/7", "/"),
        ("/signin?next=/rooms/7", "/"),
        ("/signup", "/"),
        ("", "/"),
        (None, "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_only_same_site_paths_are_followed(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


async def test_sign_in_and_sign_up_links_carry_the_page_the_visitor_is_on(client: Any, make_user: Any) -> None:
    page = (await client.get("/rooms/7?ref=share")).text
    assert 'href="/signin?next=/rooms/7%3Fref%3Dshare"' in page
    assert 'href="/signup?next=/rooms/7%3Fref%3Dshare"' in page
    signin = (await client.get("/signin?next=/rooms/7%3Fref%3Dshare")).text
    assert 'name="next" value="/rooms/7?ref=share"' in signin
    assert 'href="/signup?next=/rooms/7%3Fref%3Dshare"' in signin  # "no account? sign up" keeps it too
    assert 'name="next" value="/"' in (await client.get("/signup?next=https://evil.example")).text


async def test_sign_up_returns_to_the_room(client: Any) -> None:
    form = {"display_name": "小蓝", "email": "xiaolan@example.com", "password": PASSWORD, "next": "/rooms/7?ref=share"}
    response = await client.post("/signup", data=form)
    assert response.status_code == 303 and response.headers["location"] == "/rooms/7?ref=share"
    bad = {**form, "email": "not-an-email"}
    again = await client.post("/signup", data=bad)
    assert again.status_code == 422 and 'name="next" value="/rooms/7?ref=share"' in again.text


async def test_sign_in_returns_to_the_room_and_refuses_other_sites(client: Any, make_user: Any) -> None:
    member = await make_user()
    form = {"email": member.user.email, "password": PASSWORD, "next": "/rooms/3"}
    assert (await client.post("/signin", data=form)).headers["location"] == "/rooms/3"
    evil = await client.post("/signin", data={**form, "next": "//evil.example/x"})
    assert evil.status_code == 303 and evil.headers["location"] == "/"
