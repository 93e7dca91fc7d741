"""The public room page (``GET /rooms/<id>``) for a crowd: rendered once per kind of viewer, then filled in.

Every viewer of a public room gets the same page but for a few things: the language, whether the consent
banner shows, whether they are signed in (and as a host or not), their nickname in the top bar and the CSRF
token of their forms. So the page is rendered once per (room, language, consent answer, role) with markers
where the nickname and the token go, and each request only fills those in: no database session (the
session cookie is resolved in batches by accounts.identities), no template run, no middleware stack. An
anonymous viewer's page, once its kind is rendered, is answered in the server's parser callback
(``RoomPages.instant``, web/front.py): no request cycle either.

The marker user has a nickname and a role and nothing else: a template that reads anything more about the
user (or a marker that does not come out where expected) makes that kind of page uncacheable, and the
FastAPI route (web/pages/channel.room_page, the reference) renders it as before. So does a room that is not
public (what it shows depends on each viewer's ticket or membership), any query string, and an unknown room.

A rendered page is dropped when the room's events say it changed (``room.*``: in this process at once, in
the others by the hub's appliers within the tick) and after ``MAX_AGE`` seconds in any case (a stream's first
video segment, a room edit in another process). tests/web/test_room_page.py checks that both paths agree.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from markupsafe import escape
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from knowcast import csrf, fast_paths, i18n
from knowcast.accounts.identities import IdentityLookups
from knowcast.accounts.models import Role
from knowcast.accounts.service import Identity
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import MAX_ROW_ID
from knowcast.deps import SESSION_COOKIE
from knowcast.errors import NotFound
from knowcast.privacy import consent
from knowcast.realtime.hub import Hub
from knowcast.realtime.room import LiveRoom
from knowcast.rooms import service as rooms
from knowcast.rooms.states import AccessMode
from knowcast.web import front
from knowcast.web.front import Headers

log = logging.getLogger(__name__)
PATH = re.compile(r"^/rooms/([1-9][0-9]{0,11})$")
ROUTE = "/rooms/{room_id}"  # the metrics label, as the access log would write it
MAX_AGE = 5.0
NAME, INITIAL, TOKEN = "\ue000", "\ue001", "\ue002"  # private-use characters: never in a real page
MARKERS = tuple(m.encode() for m in (NAME, INITIAL, TOKEN))


class Uncacheable(Exception):
    """The template read something about the viewer beyond what the markers stand for."""


class MarkedName(str):
    """The nickname's marker; its first character (the avatar) is a marker of its own."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> str:
        if key == slice(None, 1, None):
            return INITIAL
        raise Uncacheable(f"the page reads the nickname as {key!r}")


class MarkedUser:
    """What the room page may know of its viewer while rendered for every viewer of the same role."""

    __slots__ = ("display_name", "locale", "role")

    def __init__(self, role: Role, locale: str) -> None:
        self.role = role
        self.locale = locale  # the language already chosen for this kind of page
        self.display_name = MarkedName(NAME)

    def __getattr__(self, name: str) -> Any:
        raise Uncacheable(f"the page reads user.{name}")


class RoomPages:
    """The rendered pages, by kind of viewer, and how a request for one is answered: made once per app
    (``install_pipeline``), asked by the ASGI fast path below and, for an anonymous viewer whose kind of page is
    already rendered, by the server's parser callback (``instant``, web/front.py) without a request cycle."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.secret = ctx.settings.secret_key
        self.default_locale = ctx.settings.default_locale
        self.secure = "; Secure" if ctx.settings.secure_cookies else ""
        self.switch = ctx.runtime(fast_paths.FastPaths)
        self.ids = fast_paths.RequestIds()
        self.security = fast_paths.raw_security_headers(ctx.settings)
        self.pages: dict[tuple[Any, ...], tuple[float, bytes | None]] = {}
        self.renders = 0
        self._loading: dict[tuple[Any, ...], asyncio.Future[bytes | None]] = {}
        self._generation = 0
        self._count = ctx.metrics.requests.labels("GET", ROUTE, "200").inc
        self._observe = ctx.metrics.latency.labels("GET", ROUTE).observe
        ctx.runtime(Hub).appliers.append(self.apply)
        ctx.bus.subscribe("*", self.on_event)

    def apply(self, room: LiveRoom, name: str, _data: dict[str, Any]) -> None:
        if name.startswith("room."):
            self.invalidate(room.id)

    async def on_event(self, event: Event) -> None:
        room_id = event.data.get("room_id")
        if isinstance(room_id, int) and event.name.startswith("room."):
            self.invalidate(room_id)

    def invalidate(self, room_id: int) -> None:
        self._generation += 1  # a render under way may have read the old room: it is not kept
        for key in [key for key in self.pages if key[0] == room_id]:
            del self.pages[key]
        for key in [key for key in self._loading if key[0] == room_id]:
            del self._loading[key]

    def room_of(self, method: str, path: str, query: bytes) -> int | None:
        """The room whose page this request asks for, when this module may answer it."""
        match = PATH.match(path) if self.switch.on and method == "GET" and not query else None
        room_id = int(match.group(1)) if match is not None else 0
        return room_id if 0 < room_id <= MAX_ROW_ID else None

    def instant(self, request: front.Request) -> front.Answer | None:
        """An anonymous viewer's page when their kind is rendered already (else None: the ASGI path answers)."""
        room_id = self.room_of(request.method.decode("latin-1"), request.path.decode("latin-1"), request.query)
        if room_id is None:
            return None
        started = time.perf_counter()
        raw = dict(request.headers)
        cookies = fast_paths.cookies(raw)
        if cookies.get(SESSION_COOKIE):
            return None
        locale, key = self._kind(room_id, raw, cookies, None)
        cached = self._fresh(key)
        if cached is None or cached[1] is None:
            return None
        headers, body = self._reply(cached[1], locale, cookies, None, raw, started)
        return front.Answer(200, headers, body)

    async def answer(self, room_id: int, scope: Scope) -> tuple[Headers, bytes] | None:
        """The page's headers and body for this request, or None when only the route may answer."""
        started = time.perf_counter()
        raw = dict(scope["headers"])
        cookies = fast_paths.cookies(raw)
        token = cookies.get(SESSION_COOKIE)
        who = await self.ctx.runtime(IdentityLookups).get(token) if token else None
        locale, key = self._kind(room_id, raw, cookies, who)
        page = await self._page(room_id, scope, key)
        if page is None:
            return None
        return self._reply(page, locale, cookies, who, raw, started)

    def _kind(
        self, room_id: int, raw: dict[bytes, bytes], cookies: dict[str, str], who: Identity | None
    ) -> tuple[str, tuple[Any, ...]]:
        """The viewer's language and the key of their kind of page."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw.items()}
        locale = i18n.negotiate(
            who.locale if who else None, cookies.get(i18n.LOCALE_COOKIE), headers.get("accept-language"), ""
        )
        locale = locale or self.default_locale
        agreed = consent.state(headers, cookies)
        return locale, (room_id, locale, agreed.analytics, agreed.decided, agreed.signal, who.role if who else None)

    def _reply(
        self,
        page: bytes,
        locale: str,
        cookies: dict[str, str],
        who: Identity | None,
        raw: dict[bytes, bytes],
        started: float,
    ) -> tuple[Headers, bytes]:
        """The page with this viewer's CSRF token (and a new nonce for a browser without one) and nickname, its
        headers, counted in the route's metrics."""
        nonce = cookies.get(csrf.COOKIE)
        new_nonce = None if nonce else csrf.new_nonce()
        body = page.replace(MARKERS[2], csrf.token_for(self.secret, nonce or str(new_nonce)).encode())
        if who is not None:
            name = who.display_name
            body = body.replace(MARKERS[0], str(escape(name)).encode()).replace(
                MARKERS[1], str(escape(name[:1])).encode()
            )
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            (b"content-language", locale.encode()),
            *self.security,
            (b"x-request-id", raw.get(b"x-request-id", b"")[:64] or self.ids.next()),
        ]
        if new_nonce:
            cookie = f"{csrf.COOKIE}={new_nonce}; Path=/; HttpOnly; SameSite=Lax{self.secure}"
            headers.append((b"set-cookie", cookie.encode()))
        self._count()
        self._observe(time.perf_counter() - started)
        return headers, body

    def _fresh(self, key: tuple[Any, ...]) -> tuple[float, bytes | None] | None:
        """The rendered page of this kind (None for one only the route renders) while it is fresh."""
        cached = self.pages.get(key)
        return cached if cached is not None and cached[0] > time.monotonic() else None

    async def _page(self, room_id: int, scope: Scope, key: tuple[Any, ...]) -> bytes | None:
        cached = self._fresh(key)
        if cached is not None:
            return cached[1]
        loading = self._loading.get(key)
        if loading is None:  # a crowd arriving together shares one render
            loading = self._loading[key] = asyncio.ensure_future(self._render(room_id, scope, key))
            loading.add_done_callback(lambda _f: self._loading.pop(key, None))
        page = await asyncio.shield(loading)
        return page

    async def _render(self, room_id: int, scope: Scope, key: tuple[Any, ...]) -> bytes | None:
        """The page for every viewer of this kind, with markers (kept MAX_AGE seconds unless the room changes
        meanwhile); None when only the route may answer."""
        generation = self._generation
        page = await self._render_once(room_id, scope, key)
        if generation == self._generation:
            self.pages[key] = (time.monotonic() + MAX_AGE, page)
        return page

    async def _render_once(self, room_id: int, scope: Scope, key: tuple[Any, ...]) -> bytes | None:
        from knowcast.web.pages.channel import host_name_of, room_context  # pages build on this module's app

        locale, role = key[1], key[5]
        try:
            async with self.ctx.db.session() as db:
                room = await rooms.get_room(db, room_id)
                host_name = await host_name_of(db, room)
        except NotFound:
            return None
        if room.access_mode is not AccessMode.PUBLIC:
            return None
        request = Request({**scope, "app": scope.get("app"), "state": {"locale": locale}})
        request.state.user = MarkedUser(role, locale) if role is not None else None
        request.state.csrf_nonce = "marker"
        pages = self.ctx_pages(scope)
        try:
            response = pages.render(request, "room.html", **room_context(request, pages, room, None, host_name))
        except Uncacheable as why:
            log.info("room page rendered per request", extra={"room_id": room_id, "why": str(why)})
            return None
        self.renders += 1
        body = bytes(response.body).replace(csrf.token_for(self.secret, "marker").encode(), MARKERS[2])
        if role is None and (MARKERS[0] in body or MARKERS[1] in body):
            return None
        return body

    def ctx_pages(self, scope: Scope) -> Any:
        app = scope.get("app")
        assert app is not None, "the room page fast path runs inside the app (create_app adds it)"
        return app.state.pages


class RoomPageFastPath:
    """The ASGI side: a room page request answered from ``RoomPages`` (rendering it for its kind of viewer when
    needed); anything else, and what only the route may answer, goes on to the app."""

    def __init__(self, app: ASGIApp, pages: RoomPages) -> None:
        self.app = app
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        room_id = None
        if scope["type"] == "http":
            room_id = self.pages.room_of(scope["method"], scope["path"], scope.get("query_string", b""))
        answer = await self.pages.answer(room_id, scope) if room_id is not None else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        headers, body = answer
        await fast_paths.send_answer(send, 200, headers, body)
