"""The listening socket, emptied of every waiting connection each time it is ready.

uvloop (through libuv) accepts one connection per turn of its event loop: 2,000 connections waiting take 2,000
turns, where the stdlib loop takes them in one. A turn is short when the server is idle and long in a join
storm (every socket's reads and writes, a garbage-collector pass), so under a crowd the kernel's accept queue
fills (4,096 waiting, ``TcpExtListenOverflows`` by the thousand), handshakes are dropped and browsers retry
after 1 s, 3 s, 7 s while the server sits half idle (docs/benchmarks.md, "Join storm").

``Loop`` is uvloop's loop whose ``create_server`` (what uvicorn calls, with a host and port or, for its worker
processes, a shared socket) returns a ``Listener``: the socket is watched for readiness and, each time it is
ready, up to ``ACCEPTS_PER_TURN`` connections are accepted and each handed to uvloop as a transport made from
the accepted socket (``connect_accepted_socket``): the same transport, protocol and ``connection_made`` as
uvloop's own server gives, read and written by libuv. TLS (``ssl``) and options this does not know go to
uvloop's own server. `knowcast serve` runs on it through ``server_options`` (web/front.py).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

import uvloop

log = logging.getLogger(__name__)

ACCEPTS_PER_TURN = 128
"""Enough for a storm's arrivals during a long turn (≈ 2,400 connections a second, turns of up to 50 ms), few
enough that one worker sharing the socket with others does not take every waiting connection at once."""

RETRY_AFTER = 1.0
"""Out of file descriptors or buffers: stop accepting this long, as asyncio's own servers do."""

_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class Listener(asyncio.AbstractServer):
    """Listening sockets whose connections are accepted here and served by the loop's transports."""

    def __init__(self, loop: asyncio.AbstractEventLoop, factory: ProtocolFactory, sockets: list[socket.socket]):
        self._loop = loop
        self._factory = factory
        self._sockets = sockets
        self._serving = False
        self._closed = loop.create_future()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self._listen()

    def _listen(self) -> None:
        if self._serving or self._closed.done():
            return
        self._serving = True
        for sock in self._sockets:
            sock.setblocking(False)
            self._loop.add_reader(sock.fileno(), self._ready, sock)

    async def serve_forever(self) -> None:
        await self.start_serving()
        await asyncio.shield(self._closed)

    def close(self) -> None:
        if self._closed.done():
            return
        self._pause()
        for sock in self._sockets:
            sock.close()
        self._closed.set_result(None)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    def _pause(self) -> None:
        if self._serving:
            self._serving = False
            for sock in self._sockets:
                self._loop.remove_reader(sock.fileno())

    def _ready(self, sock: socket.socket) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            try:
                conn, _address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    log.error("accept failed, pausing", extra={"error": exc.strerror, "seconds": RETRY_AFTER})
                    self._pause()
                    self._loop.call_later(RETRY_AFTER, self._listen)
                    return
                continue  # ECONNABORTED and the like: that peer gave up; the next one may be waiting
            self._adopt(conn)

    def _adopt(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        made = self._loop.connect_accepted_socket(self._factory, conn)
        _drive(made, conn)


def _drive(made: Coroutine[Any, Any, Any], conn: socket.socket) -> None:
    """Run ``connect_accepted_socket`` without a task of its own.

    The coroutine makes the transport, starts reading and schedules ``connection_made`` before its one
    ``await``, on a future that ``connection_made`` resolves; a task per connection would only wait for that.
    So it is stepped here to that await and finished from the future's callback."""
    try:
        waiter = made.send(None)
    except StopIteration:
        return
    except Exception:  # the socket could not become a transport: this connection alone is lost
        log.exception("could not serve an accepted connection")
        conn.close()
        return
    waiter.add_done_callback(partial(_finish, made))


def _finish(made: Coroutine[Any, Any, Any], _waiter: asyncio.Future[Any]) -> None:
    try:
        made.send(None)
    except StopIteration:
        pass
    except Exception:  # closed before connection_made: the transport has closed itself
        log.debug("connection closed before it was served", exc_info=True)


def bind(host: str | None, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` resolves to, as asyncio's ``create_server`` binds them."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Loop(uvloop.Loop):
    """uvloop, whose TCP servers accept every waiting connection each turn (see the module's docstring)."""

    async def create_server(  # type: ignore[override]
        self,
        protocol_factory: ProtocolFactory,
        host: str | Sequence[str] | None = None,
        port: int | None = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        **options: Any,
    ) -> asyncio.AbstractServer:
        sockets = None if ssl is not None or options else _listening(host, port, sock, backlog)
        if sockets is None:
            base: Any = super()
            own: asyncio.AbstractServer = await base.create_server(
                protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl, **options
            )
            return own
        server = Listener(self, protocol_factory, sockets)
        await server.start_serving()
        return server


def _listening(
    host: str | Sequence[str] | None, port: int | None, sock: socket.socket | None, backlog: int
) -> list[socket.socket] | None:
    """The TCP sockets to listen on: bound here for a host and port, or the socket uvicorn's workers are handed
    (bound, not yet listening); None for what uvloop's own server should serve (a Unix socket, several hosts)."""
    if sock is None and port is not None and (host is None or isinstance(host, str)):
        return bind(host, port, backlog)
    if sock is not None and host is None and port is None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.listen(backlog)
        return [sock]
    return None
