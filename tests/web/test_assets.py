"""Built assets (issue 16, point 2): content-hashed names from the build's manifest, a year of immutable
caching, and the build's own brotli and gzip copies chosen by Accept-Encoding (no compression per request).

Needs the built bundle (`make web`), as every page test does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from knowcast.accounts.models import Role
from knowcast.web.assets import Manifest
from knowcast.web.templating import STATIC_DIR

MANIFEST = STATIC_DIR / "dist" / "manifest.json"
HASHED = re.compile(r"/static/dist/[a-z_]+-[A-Za-z0-9_-]{8,10}\.(js|css)")


def manifest() -> dict[str, Any]:
    if not MANIFEST.exists():
        pytest.fail("no static/dist/manifest.json: run `make web` first")
    found: dict[str, Any] = json.loads(MANIFEST.read_text())
    return found


def test_the_build_names_every_entry_and_stylesheet_by_its_content() -> None:
    entries = manifest()
    for name in ("dist/room_page.js", "dist/room_page.css", "dist/app.js", "css/app.css"):
        assert name in entries
        assert HASHED.fullmatch(f"/static/{entries[name]['file']}"), entries[name]
    assert all((STATIC_DIR / path).exists() for path in entries["dist/app.js"]["imports"])
    assert "dist/room.js" not in entries  # only inside the room's one bundle


def test_the_pages_helper_gives_hashed_urls_and_the_imported_chunks() -> None:
    assets = Manifest(STATIC_DIR)
    assert HASHED.fullmatch(assets.url("dist/app.js"))
    assert assets.imports("dist/app.js") and all(
        u.startswith("/static/dist/chunk-") for u in assets.imports("dist/app.js")
    )
    assert assets.url("css/not-built.css").startswith("/static/css/not-built.css?v=")  # outside the build
    assert assets.imports("dist/no-such.js") == []


async def test_the_room_page_links_one_hashed_script_and_one_stylesheet(client: Any, make_user: Any) -> None:
    """A crowd opens the live room at once: every file it links is a request times the crowd, so the room
    has one bundle (every page's code and the room's; hls.js apart, see below) and one stylesheet (every
    page's and the room's), both hashed."""
    host = await make_user(Role.HOST)
    room = (
        await host.client.post("/api/v1/rooms", json={"title": "资产", "scheduled_at": "2030-01-01T10:00:00Z"})
    ).json()
    page = (await client.get(f"/rooms/{room['id']}")).text
    entries = manifest()
    assert re.findall(r'<script type="module" src="([^"]+)"', page) == [
        f"/static/{entries['dist/room_page.js']['file']}"
    ]
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) == [
        f"/static/{entries['dist/room_page.css']['file']}"
    ]
    assert "modulepreload" not in page and "?v=" not in page
    app_css = (STATIC_DIR / "css" / "app.css").read_text()
    room_css = (STATIC_DIR / "css" / "room.css").read_text()
    assert (STATIC_DIR / entries["dist/room_page.css"]["file"]).read_text() == f"{app_css}\n{room_css}"


def test_hls_js_is_a_chunk_of_its_own_that_only_a_page_playing_hls_loads() -> None:
    """Most of the room's code by weight: a viewer on WebRTC or on native HLS never downloads it."""
    bundle = STATIC_DIR / manifest()["dist/room_page.js"]["file"]
    lazy = re.findall(r'import\("\./(chunk-[A-Za-z0-9]+\.js)"\)', bundle.read_text())
    assert len(lazy) == 1 and "import{" not in bundle.read_text()[:200]  # one dynamic import, no static ones
    chunk = (STATIC_DIR / "dist" / lazy[0]).read_text()
    assert "MANIFEST_LOADING" in chunk  # hls.js's own event names
    assert len((bundle.parent / f"{bundle.name}.br").read_bytes()) < 40_000  # was 173 KB with hls.js inside


async def test_a_hashed_file_is_immutable_and_precompressed(client: Any) -> None:
    path = manifest()["dist/room_page.js"]["file"]
    url = f"/static/{path}"
    plain = await client.get(url, headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.content == (STATIC_DIR / path).read_bytes()
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"].startswith("text/javascript")
    assert plain.headers["vary"] == "Accept-Encoding" and plain.headers["x-content-type-options"] == "nosniff"
    gzipped = await client.get(url, headers={"accept-encoding": "gzip, deflate"})
    assert gzipped.headers["content-encoding"] == "gzip" and gzipped.content == plain.content  # httpx decodes
    brotli = await client.get(url, headers={"accept-encoding": "gzip, deflate, br"})
    assert brotli.headers["content-encoding"] == "br"
    raw = brotli.content  # httpx has no brotli decoder here: these are the bytes sent
    assert raw == (STATIC_DIR / f"{path}.br").read_bytes() and len(raw) < len(plain.content) / 2
    assert int(brotli.headers["content-length"]) == len(raw)
    node = shutil.which("node")
    if node is not None:  # the brotli copy really is the file
        script = "process.stdout.write(require('zlib').brotliDecompressSync(require('fs').readFileSync(0)))"
        assert subprocess.run([node, "-e", script], input=raw, capture_output=True, check=True).stdout == plain.content


async def test_revalidation_head_and_unknown_names(client: Any) -> None:
    path = manifest()["css/app.css"]["file"]
    first = await client.get(f"/static/{path}")
    assert first.headers["content-type"].startswith("text/css")
    again = await client.get(f"/static/{path}", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = await client.head(f"/static/{path}", headers={"accept-encoding": "identity"})
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    for bad in ("/static/dist/room-NOSUCH00.js", "/static/dist/%2e%2e/%2e%2e/app.py"):
        assert (await client.get(bad)).status_code == 404
