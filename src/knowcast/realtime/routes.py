"""The WebSocket endpoint: /api/v1/rooms/{room_id}/live (protocol in docs/protocol.md).

Access is decided here, once, at the handshake: the session cookie names the user and
``rooms.service.ensure_can_watch`` decides; a refused viewer gets an ``error`` frame and a 44xx close code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts import service as accounts
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from knowcast.errors import AuthenticationRequired, KnowcastError, NotFound, PermissionDenied, ValidationFailed
from knowcast.realtime import frames, protocol
from knowcast.realtime.connection import Connection
from knowcast.realtime.hub import Hub
from knowcast.rooms import service as rooms
from knowcast.web import i18n

router = APIRouter()
log = logging.getLogger(__name__)
JOIN_TIMEOUT = 10.0
FRAMES_PER_SECOND = 20  # a client sending more is flooding the server, not chatting
MAX_BAD_FRAMES = 10
CLOSE_CODES = {NotFound: 4404, AuthenticationRequired: 4401, PermissionDenied: 4403}


class Refused(Exception):
    """Ends the socket with a close code after the error frame has been sent."""

    def __init__(self, close_code: int) -> None:
        super().__init__(close_code)
        self.close_code = close_code


@router.websocket("/api/v1/rooms/{room_id}/live")
async def live(websocket: WebSocket, room_id: int) -> None:
    ctx: AppContext = websocket.app.state.ctx
    if not same_origin(websocket, ctx.settings.public_url):
        await websocket.close(4403)
        return
    transport = frames.transport_of(websocket._receive)
    await websocket.accept()
    if transport is None:
        log.error("the live endpoint needs uvicorn (it writes frames to the socket itself)")
        await websocket.close(1011)
        return
    session = Session(websocket, ctx, transport, room_id, locale_of(websocket))
    try:
        await session.run()
    except Refused as refused:
        await _close(websocket, refused.close_code)
    except WebSocketDisconnect:
        pass
    finally:
        session.leave()


async def _close(websocket: WebSocket, code: int) -> None:
    try:
        await websocket.close(code)
    except Exception:  # already gone
        log.debug("close after disconnect", exc_info=True)


def same_origin(websocket: WebSocket, public_url: str) -> bool:
    """Refuse cross-site pages (the cookie would ride along); clients without an Origin are not browsers."""
    origin = websocket.headers.get("origin")
    if not origin:
        return True
    host = urlsplit(origin).netloc
    return host in (websocket.headers.get("host"), urlsplit(public_url).netloc)


def locale_of(websocket: WebSocket) -> str:
    return str(websocket.scope.get("state", {}).get("locale", "zh-CN"))


class Session:
    """One socket's conversation: handshake checks, join, then messages until it closes."""

    def __init__(self, websocket: WebSocket, ctx: AppContext, transport: frames.Transport, room_id: int, locale: str):
        self.websocket = websocket
        self.ctx = ctx
        self.hub: Hub = ctx.hub
        self.transport = transport
        self.room_id = room_id
        self.locale = locale
        self.conn: Connection | None = None
        self.bad_frames = 0
        self.window = (0.0, 0)

    async def run(self) -> None:
        async with self.ctx.db.session() as db:  # never held while waiting on the client
            user, room = await self.admit(db)
        join = await self.wait_for_join()
        async with self.ctx.db.session() as db:
            await self.enter(db, user, room, join)
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            await self.handle(message.get("text") if "text" in message else message.get("bytes"))

    async def admit(self, db: AsyncSession) -> tuple[Any, Any]:
        token = self.websocket.cookies.get(SESSION_COOKIE)
        user = await accounts.resolve_session(db, token) if token else None
        if user is not None and user.locale in i18n.LOCALES:
            self.locale = str(user.locale)
        try:
            room = await rooms.get_room(db, self.room_id)
            await rooms.ensure_can_watch(db, user, room)
        except (NotFound, AuthenticationRequired, PermissionDenied) as error:
            await self.refuse(error, CLOSE_CODES.get(type(error), 4403))
        return user, room

    async def refuse(self, error: KnowcastError, close_code: int) -> None:
        await self.websocket.send_text(protocol.encode(self.error_frame(error)).decode())
        raise Refused(close_code)

    async def wait_for_join(self) -> protocol.Join:
        deadline = time.monotonic() + JOIN_TIMEOUT
        while True:
            try:
                message = await asyncio.wait_for(self.websocket.receive(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                raise Refused(4408) from None
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            try:
                parsed = protocol.parse(message.get("text") if "text" in message else message.get("bytes"))
                if not isinstance(parsed, protocol.Join):
                    raise ValidationFailed("send a join frame first", code="protocol.not_joined")
                return parsed
            except KnowcastError as error:
                await self.reject_frame(error)

    async def reject_frame(self, error: KnowcastError) -> None:
        """Answer a bad frame with an error; too many bad frames, or an oversized one, end the socket."""
        self.bad_frames += 1
        frame = protocol.encode(self.error_frame(error))
        if self.conn is not None:
            self.conn.write(frames.frame(frame))
        else:
            await self.websocket.send_text(frame.decode())
        if error.code == "protocol.too_large":
            raise Refused(1009)
        if self.bad_frames > MAX_BAD_FRAMES:
            raise Refused(1008)

    async def enter(self, db: AsyncSession, user: Any, room: Any, join: protocol.Join) -> None:
        conn = Connection(
            self.transport,
            room_id=self.room_id,
            user_id=user.id if user is not None else None,
            name=user.display_name if user is not None else None,
            locale=self.locale,
            buffer_limit=self.hub.buffer_limit,
        )
        if user is None and join.visitor:
            conn.key = "v" + join.visitor
        you: dict[str, Any] = {"user_id": conn.user_id, "name": conn.name}
        if self.hub.identify is not None:
            you.update(await self.hub.identify(db, conn, user, room))
        live_room = await self.hub.open_room(self.room_id)
        extras = await self.hub.snapshot_extras(live_room)
        self.conn = conn
        self.hub.join(conn, live_room, join.last_seq, you, extras)

    async def handle(self, raw: str | bytes | None) -> None:
        conn = self.conn
        assert conn is not None
        self.count_frame()
        try:
            message = protocol.parse(raw)
            if isinstance(message, protocol.Heartbeat):
                self.hub.heartbeat(conn)
            elif isinstance(message, protocol.Like):
                self.hub.add_likes(conn, message.count)
            elif isinstance(message, protocol.Chat):
                if self.hub.chat_handler is None:
                    raise ValidationFailed("chat is not available", code="chat.unavailable")
                await self.hub.chat_handler(conn, message)
            else:
                raise ValidationFailed("already joined", code="protocol.already_joined")
        except KnowcastError as error:
            if error.code.startswith("protocol."):
                await self.reject_frame(error)
            else:
                conn.send(self.error_frame(error))

    def count_frame(self) -> None:
        second, count = self.window
        now = time.monotonic()
        if now - second >= 1.0:
            self.window = (now, 1)
            return
        self.window = (second, count + 1)
        if count + 1 > FRAMES_PER_SECOND:
            assert self.conn is not None
            self.conn.send(self.error_frame(ValidationFailed("too many frames", code="protocol.flooding")))
            raise Refused(1008)

    def error_frame(self, error: KnowcastError) -> dict[str, Any]:
        localized = i18n.catalog(self.locale).get(f"error.{error.code}")
        return protocol.error_message(error, localized)

    def leave(self) -> None:
        if self.conn is not None:
            self.hub.leave(self.conn)
            self.conn.closed = True
