"""Server-rendered pages: languages, phone layout, SEO tags, escaping, friendly errors, forms."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from knowcast.accounts.models import Role
from knowcast.rooms.states import AccessMode
from tests.rooms.test_rooms_api import make_room


async def test_home_speaks_chinese_by_default_and_english_when_asked(client: Any) -> None:
    zh = await client.get("/")
    assert zh.status_code == 200
    assert '<html lang="zh-CN" ' in zh.text and "正在直播" in zh.text
    en = await client.get("/", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="en" ' in en.text and "Live now" in en.text
    assert en.headers["content-language"] == "en"


async def test_language_switch_is_remembered(client: Any) -> None:
    response = await client.post("/locale", data={"locale": "en", "next": "/"})
    assert response.status_code == 303
    assert "Live now" in (await client.get("/", headers={"accept-language": "zh-CN"})).text


async def test_signed_in_users_language_choice_wins(make_user: Any) -> None:
    member = await make_user()
    await member.client.patch("/api/v1/auth/me", json={"locale": "en"})
    assert "Sign out" in (await member.client.get("/", headers={"accept-language": "zh-CN"})).text


async def test_pages_are_laid_out_for_phones(client: Any) -> None:
    page = (await client.get("/")).text
    assert 'name="viewport" content="width=device-width, initial-scale=1' in page


async def test_room_page_has_open_graph_and_broadcast_event(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host, title="理财课 & 答疑", description="一小时讲清楚预算")
    page = (await client.get(f"/rooms/{room['id']}")).text
    assert '<meta property="og:title" content="理财课 &amp; 答疑">' in page
    assert f'<meta property="og:url" content="http://127.0.0.1:8000/rooms/{room["id"]}">' in page
    assert 'property="og:image"' in page
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert ld["@type"] == "BroadcastEvent"
    assert ld["name"] == "理财课 & 答疑"
    assert ld["isLiveBroadcast"] is True
    assert ld["publishedOn"]["@type"] == "BroadcastService"
    for area in ("video-area", "chat-area", "product-area"):
        assert f'data-testid="{area}"' in page


async def test_script_and_sql_looking_text_is_stored_as_text_and_escaped(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST, name="<script>alert('n')</script>")
    title = "</script><script>alert(1)</script>'; DROP TABLE rooms; --"
    room = await make_room(host, title=title, description="<img src=x onerror=alert(2)>")
    assert (await client.get(f"/api/v1/rooms/{room['id']}")).json()["title"] == title
    page = (await client.get(f"/rooms/{room['id']}")).text
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\\u003c/script\\u003e" in page  # inside the JSON-LD block
    home = (await client.get("/")).text
    assert "<script>alert(1)</script>" not in home and "DROP TABLE rooms" in home
    assert (await client.get("/api/v1/rooms")).status_code == 200  # the table is still there
    studio = (await host.client.get("/studio")).text
    assert "<script>alert('n')</script>" not in studio


async def test_unknown_room_page_is_a_friendly_404(client: Any) -> None:
    response = await client.get("/rooms/999999")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert 'data-code="room.not_found"' in response.text and "这个直播间不存在" in response.text
    missing = await client.get("/no/such/page")
    assert missing.status_code == 404 and 'data-code="not_found"' in missing.text


async def test_pages_that_need_sign_in_redirect_there(client: Any) -> None:
    response = await client.get("/studio")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/studio"


async def test_viewer_gets_a_403_page_for_the_studio(make_user: Any) -> None:
    viewer = await make_user()
    response = await viewer.client.get("/studio")
    assert response.status_code == 403 and 'data-code="auth.forbidden"' in response.text


async def test_sign_up_form_then_sign_in_form(client_factory: Any) -> None:
    client = client_factory()
    values = {"email": "form@example.com", "password": "long enough", "display_name": "表单用户"}
    assert (await client.post("/signup", data=values)).status_code == 303
    assert "表单用户" in (await client.get("/")).text
    again = await client_factory().post("/signup", data=values)
    assert again.status_code == 409 and "这个邮箱已经注册过了" in again.text
    assert "long enough" not in again.text  # the password is never echoed back
    signin = await client_factory().post(
        "/signin", data={"email": "form@example.com", "password": "long enough", "next": "//evil.example.com"}
    )
    assert signin.status_code == 303 and signin.headers["location"] == "/"
    wrong = await client_factory().post("/signin", data={"email": "form@example.com", "password": "wrong one"})
    assert wrong.status_code == 401 and 'data-code="auth.invalid_credentials"' in wrong.text


async def test_host_creates_and_runs_a_room_from_the_studio(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    start = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "title": "周末读书会",
        "description": "一起读《思考，快与慢》",
        "scheduled_at": start,
        "access_mode": "public",
    }
    created = await host.client.post("/studio/rooms", data=form, files={"cover": ("", b"", "application/octet-stream")})
    assert created.status_code == 303
    console_url = created.headers["location"]
    console = await host.client.get(console_url)
    assert "周末读书会" in console.text and 'data-testid="stream-key"' in console.text
    room_id = int(console_url.rsplit("/", 1)[1])
    assert (await host.client.post(f"/studio/rooms/{room_id}/state", data={"to": "live"})).status_code == 303
    assert "直播中" in (await client.get(f"/rooms/{room_id}")).text
    bad = await host.client.post(f"/studio/rooms/{room_id}/state", data={"to": "live"})
    assert bad.status_code == 409 and 'data-code="room.illegal_transition"' in bad.text
    weird = await host.client.post(f"/studio/rooms/{room_id}/state", data={"to": "paused"})
    assert weird.status_code == 422


async def test_room_form_errors_are_shown_beside_the_form(make_user: Any) -> None:
    host = await make_user(Role.HOST)
    response = await host.client.post("/studio/rooms", data={"title": "", "scheduled_at": "not a date"})
    assert response.status_code == 422
    assert 'data-testid="form-error"' in response.text


async def test_ticket_room_page_is_closed_to_strangers(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host, access_mode=AccessMode.TICKET.value)
    assert (await host.client.get(f"/rooms/{room['id']}")).status_code == 200
    assert 'data-testid="room-locked"' not in (await host.client.get(f"/rooms/{room['id']}")).text
    viewer = await make_user()
    page = (await viewer.client.get(f"/rooms/{room['id']}")).text
    assert 'data-testid="room-locked" data-code="room.ticket_required"' in page
    assert 'id="chat-form"' not in page and "购买门票后即可观看" in page
    anonymous = (await client.get(f"/rooms/{room['id']}")).text
    assert 'data-code="room.ticket_required"' in anonymous and "/signin?next=/rooms/" in anonymous


async def test_robots_and_sitemap(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    room = await make_room(host)
    robots = (await client.get("/robots.txt")).text
    assert "Disallow: /studio" in robots and "Sitemap: http://127.0.0.1:8000/sitemap.xml" in robots
    sitemap = await client.get("/sitemap.xml")
    assert sitemap.headers["content-type"].startswith("application/xml")
    assert f"<loc>http://127.0.0.1:8000/rooms/{room['id']}</loc>" in sitemap.text


async def test_security_headers_on_every_page(client: Any) -> None:
    headers = (await client.get("/")).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
