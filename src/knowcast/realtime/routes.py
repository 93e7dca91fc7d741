"""The live WebSocket endpoint, /api/v1/rooms/{room_id}/live (protocol in docs/protocol.md).

It is served by a thin ASGI layer in front of FastAPI's routing: a viewer's socket lives for hours and there
may be ten thousand of them, so each one keeps only what it needs (this coroutine, a Connection) rather than
a framework request with its dependency stacks — about half the memory per viewer (docs/benchmarks.md).

Access is decided once, at the handshake: the session cookie names the user and
``rooms.service.ensure_can_watch`` decides; a refused viewer gets an ``error`` frame and a 44xx close code.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowcast import i18n
from knowcast.accounts.identities import IdentityLookups
from knowcast.accounts.models import User
from knowcast.accounts.service import Identity
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from knowcast.errors import AuthenticationRequired, KnowcastError, NotFound, PermissionDenied, ValidationFailed
from knowcast.interaction.errors import InteractionCode
from knowcast.realtime import frames, protocol
from knowcast.realtime.connection import Connection
from knowcast.realtime.errors import RealtimeCode
from knowcast.realtime.hub import Hub
from knowcast.realtime.public_rooms import PublicRooms
from knowcast.rooms import service as rooms
from knowcast.rooms.states import AccessMode

log = logging.getLogger(__name__)
PATH = re.compile(r"/api/v1/rooms/([0-9]{1,12})/live")
JOIN_TIMEOUT = 10.0
FRAMES_PER_SECOND = 20  # a client sending more is flooding the server, not chatting
MAX_BAD_FRAMES = 10
CLOSE_CODES = {NotFound: 4404, AuthenticationRequired: 4401, PermissionDenied: 4403}


class LiveSockets:
    """ASGI middleware: answers the live endpoint's WebSockets, passes everything else on."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self.public_rooms = PublicRooms()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = PATH.fullmatch(scope["path"]) if scope["type"] == "websocket" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        await serve(self.ctx, Socket(scope, receive, send), int(match[1]), self.public_rooms)


class Refused(Exception):
    """Ends the socket with a close code (after the error frame, when there is one)."""

    def __init__(self, close_code: int) -> None:
        super().__init__(close_code)
        self.close_code = close_code


class Gone(Exception):
    """The client went away."""


class Socket:
    """The ASGI side of one WebSocket, reduced to what the endpoint uses."""

    __slots__ = ("receive_message", "scope", "send_message")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope, self.receive_message, self.send_message = scope, receive, send

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    def upgraded_at(self) -> float | None:
        """When the server read the upgrade request (time.perf_counter()), if the server says (web/front.py)."""
        at = self.scope.get("extensions", {}).get("knowcast.upgrade", {}).get("at")
        return float(at) if at else None

    def cookies(self) -> dict[str, str]:
        return cookie_parser(self.header(b"cookie") or "")  # as Starlette's Request and the fast paths read them

    async def receive(self) -> Message:
        message = await self.receive_message()
        if message["type"] == "websocket.disconnect":
            raise Gone
        return message

    async def send_text(self, text: str) -> None:
        await self.send_message({"type": "websocket.send", "text": text})

    async def close(self, code: int) -> None:
        try:
            await self.send_message({"type": "websocket.close", "code": code})
        except Exception:  # already gone
            log.debug("close after disconnect", exc_info=True)


async def serve(ctx: AppContext, socket: Socket, room_id: int, public_rooms: PublicRooms) -> None:
    try:
        await socket.receive()  # websocket.connect
    except Gone:
        return
    if not same_origin(socket, ctx.settings.public_url):
        await socket.close(4403)  # before accept: the handshake answers 403
        return
    transport = frames.transport_of(socket.receive_message)
    await socket.send_message({"type": "websocket.accept"})
    if transport is None:
        log.error("the live endpoint needs uvicorn (it writes frames to the socket itself)")
        await socket.close(1011)
        return
    conversation = Conversation(socket, ctx, room_id, public_rooms)
    try:
        conn = await conversation.open(transport)
        await conversation.converse(conn)
    except Refused as refused:
        await socket.close(refused.close_code)
    except Gone:
        pass
    except Exception:  # a bug must cost this one socket, cleanly closed, and nothing else
        log.exception("live socket failed", extra={"room_id": room_id})
        await socket.close(1011)
    finally:
        conversation.leave()


def same_origin(socket: Socket, public_url: str) -> bool:
    """Refuse cross-site pages (the cookie would ride along); clients without an Origin are not browsers."""
    origin = socket.header(b"origin")
    if not origin:
        return True
    return urlsplit(origin).netloc in (socket.header(b"host"), urlsplit(public_url).netloc)


class Conversation:
    """One socket's conversation: handshake checks, join, then messages until it closes. (Not a database
    session nor a sign-in session: the word stays with those two.)"""

    __slots__ = ("bad_frames", "conn", "ctx", "hub", "locale", "public_rooms", "room_id", "socket", "window")

    def __init__(self, socket: Socket, ctx: AppContext, room_id: int, public_rooms: PublicRooms) -> None:
        self.socket = socket
        self.public_rooms = public_rooms
        self.ctx = ctx
        self.hub = ctx.runtime(Hub)
        self.room_id = room_id
        cookies = socket.cookies()
        self.locale = i18n.negotiate(
            None, cookies.get(i18n.LOCALE_COOKIE), socket.header(b"accept-language"), ctx.settings.default_locale
        )
        self.conn: Connection | None = None
        self.bad_frames = 0
        self.window = (0.0, 0)

    async def open(self, transport: frames.Transport) -> Connection:
        """Admit, wait for the join frame, then join; no database session is held while the client is awaited.

        A crowd arriving together shares its reads: the session cookies are resolved in batches
        (accounts.identities), a public room is read once every few seconds (PublicRooms) and the standings
        come in batches too (the interaction domain's ``identify``)."""
        token = self.socket.cookies().get(SESSION_COOKIE)
        who = await self.ctx.runtime(IdentityLookups).get(token) if token else None
        if who is not None and who.locale in i18n.LOCALES:
            self.locale = str(who.locale)
        room = await self.admit(who)
        join = await self.wait_for_join()
        conn = Connection(
            transport,
            room_id=self.room_id,
            user_id=who.user_id if who is not None else None,
            name=who.display_name if who is not None else None,
            locale=self.locale,
            buffer_limit=self.hub.buffer_limit,
        )
        if who is None and join.visitor:
            conn.key = "v" + join.visitor
        you: dict[str, Any] = {"user_id": conn.user_id, "name": conn.name}
        if self.hub.identify is not None:
            you.update(await self.hub.identify(conn, who, room))
        live_room = await self.hub.open_room(self.room_id)
        fresh = join.last_seq is None or live_room.frames_after(join.last_seq) is None
        extras, parts = await self.hub.welcome_extras(live_room, conn.user_id, fresh)
        self.conn = conn
        self.hub.join(conn, live_room, join.last_seq, you, extras, parts)
        upgraded_at = self.socket.upgraded_at()
        if upgraded_at is not None:
            self.hub.join_seconds.observe(time.perf_counter() - upgraded_at)
        if join.track is not None:  # the events the page held until it joined, as a track frame right after
            try:
                await self.track(conn, join.track)
            except KnowcastError as error:
                await self.refuse(conn, error)
        return conn

    async def admit(self, who: Identity | None) -> Any:
        """The room, if this viewer may watch it: a public room from the copy a crowd shares (PublicRooms);
        any other, checked for this viewer (a ticket, a membership)."""
        try:
            room = await self.public_rooms.get(self.room_id, self.read_room)
            if room.access_mode is not AccessMode.PUBLIC:
                async with self.ctx.db.session() as db:
                    user = await db.get(User, who.user_id) if who is not None else None
                    await rooms.ensure_can_watch(db, user, room)
        except (NotFound, AuthenticationRequired, PermissionDenied) as error:
            await self.socket.send_text(protocol.encode(self.error_frame(error)).decode())
            raise Refused(CLOSE_CODES.get(type(error), 4403)) from None
        return room

    async def read_room(self) -> Any:
        async with self.ctx.db.session() as db:
            return await rooms.get_room(db, self.room_id)

    async def wait_for_join(self) -> protocol.Join:
        """The first frame must be a join, within JOIN_TIMEOUT. (``asyncio.timeout``, not ``wait_for``: no task
        of its own, so a join frame already read is taken without waiting for a turn of the loop.)"""
        deadline = time.monotonic() + JOIN_TIMEOUT
        while True:
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    message = await self.socket.receive()
            except TimeoutError:
                raise Refused(4408) from None
            try:
                parsed = protocol.parse(message.get("text") if "text" in message else message.get("bytes"))
                if not isinstance(parsed, protocol.Join):
                    raise ValidationFailed("send a join frame first", code=RealtimeCode.PROTOCOL_NOT_JOINED)
                return parsed
            except KnowcastError as error:
                await self.reject_frame(error)

    async def converse(self, conn: Connection) -> None:
        receive, handle = self.socket.receive, self.handle
        while True:
            message = await receive()
            await handle(conn, message.get("text") if "text" in message else message.get("bytes"))

    async def handle(self, conn: Connection, raw: str | bytes | None) -> None:
        self.count_frame(conn)
        try:
            await self.dispatch(conn, protocol.parse(raw))
        except KnowcastError as error:
            await self.refuse(conn, error)

    async def dispatch(self, conn: Connection, message: protocol.ClientMessage) -> None:
        hub = self.hub
        if isinstance(message, protocol.Heartbeat):
            hub.heartbeat(conn)
        elif isinstance(message, protocol.Like):
            hub.add_likes(conn, message.count)
        elif isinstance(message, protocol.Chat):
            if hub.chat_handler is None:
                raise ValidationFailed("chat is not available", code=InteractionCode.CHAT_UNAVAILABLE)
            await hub.chat_handler(conn, message)
        elif isinstance(message, protocol.Track):
            await self.track(conn, message)
        else:
            raise ValidationFailed("already joined", code=RealtimeCode.PROTOCOL_ALREADY_JOINED)

    async def track(self, conn: Connection, frame: protocol.Track) -> None:
        """The page's analytics events to the analytics domain. Its ``tracked`` answer goes back only when an
        event was refused or the page asked (``ack``): the page acts on refusals alone, and a room of ten
        thousand sends hundreds of heartbeats a second."""
        if self.hub.track_handler is None:
            raise ValidationFailed("analytics is not available", code=RealtimeCode.PROTOCOL_UNKNOWN_TYPE)
        answer = await self.hub.track_handler(conn, self.socket.scope, frame)
        if frame.ack or answer["rejected"]:
            conn.send(answer)

    async def refuse(self, conn: Connection, error: KnowcastError) -> None:
        if error.code.startswith("protocol."):
            await self.reject_frame(error)
        else:
            conn.send(self.error_frame(error))

    async def reject_frame(self, error: KnowcastError) -> None:
        """Answer a bad frame with an error; too many bad frames, or an oversized one, end the socket."""
        self.bad_frames += 1
        frame = protocol.encode(self.error_frame(error))
        if self.conn is not None:
            self.conn.write(frames.frame(frame))
        else:
            await self.socket.send_text(frame.decode())
        if error.code == RealtimeCode.PROTOCOL_TOO_LARGE:
            raise Refused(1009)
        if self.bad_frames > MAX_BAD_FRAMES:
            raise Refused(1008)

    def count_frame(self, conn: Connection) -> None:
        second, count = self.window
        now = time.monotonic()
        if now - second >= 1.0:
            self.window = (now, 1)
            return
        self.window = (second, count + 1)
        if count + 1 > FRAMES_PER_SECOND:
            conn.send(self.error_frame(ValidationFailed("too many frames", code=RealtimeCode.PROTOCOL_FLOODING)))
            raise Refused(1008)

    def error_frame(self, error: KnowcastError) -> dict[str, Any]:
        return protocol.error_message(error, i18n.catalog(self.locale).get(f"error.{error.code}"))

    def leave(self) -> None:
        if self.conn is not None:
            self.hub.leave(self.conn)
            self.conn.closed = True
