"""Built static assets: content-hashed names from the build's manifest, served from memory, precompressed.

The build (scripts/build-web.mjs) names every file in static/dist/ by its content, writes a gzip and a
brotli copy beside each text file and maps logical names to hashed files in dist/manifest.json. Pages ask
for ``asset("dist/room_page.js")`` and get ``/static/dist/room_page-MBRGR4GM.js``: a new build changes the name, so
browsers may keep a file for a year without asking again (``Cache-Control: immutable``). A crowd joining a
room then fetches each file once per browser, and each fetch is a dictionary look-up here: no thread, no
``stat``, no compression per request, and none of the app's middleware (with the front protocol, web/front.py,
not even a request cycle).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from knowcast.middleware import SECURITY_HEADERS
from knowcast.web import front

log = logging.getLogger(__name__)
PREFIX = "/static/dist/"
RAW_PREFIX = PREFIX.encode()
IMMUTABLE = b"public, max-age=31536000, immutable"
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))  # preferred first
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".map": "application/json"}


class Manifest:
    """Logical asset names → hashed URLs (and the chunks an entry imports, for ``modulepreload``)."""

    def __init__(self, static_dir: Path) -> None:
        self.static_dir = static_dir
        self.entries: dict[str, dict[str, object]] = {}
        path = static_dir / "dist" / "manifest.json"
        if path.exists():
            self.entries = json.loads(path.read_text())
        else:
            log.warning("no static/dist/manifest.json: run `make web`; assets are served without hashed names")
        self._fallback: dict[str, str] = {}

    def url(self, name: str) -> str:
        entry = self.entries.get(name)
        if entry is not None:
            return f"/static/{entry['file']}"
        return self._unbuilt(name)

    def imports(self, name: str) -> list[str]:
        """URLs of the chunks an entry module imports, so the page can fetch them alongside it."""
        entry = self.entries.get(name)
        found = entry.get("imports", []) if entry is not None else []
        return [f"/static/{path}" for path in found] if isinstance(found, list) else []

    def _unbuilt(self, name: str) -> str:
        """No manifest entry (a file outside the build, or no build yet): versioned by modification time."""
        if name not in self._fallback:
            path = self.static_dir / name
            self._fallback[name] = str(int(path.stat().st_mtime)) if path.exists() else "0"
        return f"/static/{name}?v={self._fallback[name]}"


@dataclass(frozen=True, slots=True)
class Built:
    """One hashed file and its precompressed copies, as bytes ready to send."""

    bodies: dict[str, bytes]  # content-coding ("identity", "br", "gzip") → body
    etag: bytes
    headers: dict[str, front.Headers]  # content-coding → the answer's own headers (without length or security)


class AssetFiles:
    """The built files (read on first request and kept: the set is fixed by the build) and the answer to a
    request for one: the brotli copy when the browser accepts ``br``, else gzip, else the file itself, with
    ``Vary: Accept-Encoding``. ``instant`` gives it in the server's parser callback (web/front.py);
    ``StaticAssets`` through ASGI, where the front protocol is not serving."""

    def __init__(self, static_dir: Path, counts: Counter[str] | None = None) -> None:
        self.counts: Counter[str] = Counter() if counts is None else counts  # answers by status, for /metrics
        self.dist = static_dir / "dist"
        self.files: dict[str, Built | None] = {}
        self.security = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    def instant(self, request: front.Request) -> front.Answer | None:
        if not request.path.startswith(RAW_PREFIX):
            return None
        return self.answer(request.path[len(RAW_PREFIX) :].decode("latin-1"), request.headers)

    def answer(self, name: str, request_headers: front.Headers) -> front.Answer | None:
        """The answer to GET (or HEAD) /static/dist/<name>; None when no such file was built."""
        built = self.load(name)
        if built is None:
            return None
        accepted = b""
        not_modified = False
        for key, value in request_headers:
            if key == b"accept-encoding":
                accepted = value
            elif key == b"if-none-match":
                not_modified = built.etag in value
        coding = next((c for c, _ in ENCODINGS if c in built.bodies and c.encode() in accepted), "identity")
        headers = [*built.headers[coding], *self.security]
        self.counts["304" if not_modified else "200"] += 1
        if not_modified:
            return front.Answer(304, headers)
        body = built.bodies[coding]
        headers.append((b"content-length", b"%d" % len(body)))
        return front.Answer(200, headers, body)

    def load(self, name: str) -> Built | None:
        if name in self.files:
            return self.files[name]
        built = None
        if SAFE_NAME.fullmatch(name) and not name.endswith((".br", ".gz")) and (self.dist / name).is_file():
            built = read_built(self.dist / name)
        if len(self.files) < 4096:  # names probed by scanners must not grow this without bound
            self.files[name] = built
        return built


class StaticAssets:
    """ASGI middleware: GET/HEAD /static/dist/<hashed name> from memory (``AssetFiles``); the rest passes on."""

    def __init__(self, app: ASGIApp, files: AssetFiles) -> None:
        self.app = app
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        if not path.startswith(PREFIX) or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        answer = self.files.answer(path[len(PREFIX) :], scope["headers"])
        if answer is None:
            await self.app(scope, receive, send)  # the static mount answers (404 for a name never built)
            return
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body if scope["method"] == "GET" else b""})


def read_built(path: Path) -> Built:
    bodies = {"identity": path.read_bytes()}
    for coding, suffix in ENCODINGS:
        copy = path.with_name(path.name + suffix)
        if copy.is_file():
            bodies[coding] = copy.read_bytes()
    content_type = (TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream").encode()
    etag = f'"{path.name}"'.encode()
    common = [(b"content-type", content_type), (b"cache-control", IMMUTABLE), (b"etag", etag)]
    common.append((b"vary", b"Accept-Encoding"))
    headers = {c: common + ([] if c == "identity" else [(b"content-encoding", c.encode())]) for c in bodies}
    return Built(bodies, etag, headers)
