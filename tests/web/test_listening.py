"""knowcast.web.listening: the listening socket is emptied each turn of the loop, and every connection it
accepts is served by the loop's own transports, as uvloop's server would serve it."""

from __future__ import annotations

import asyncio
import errno
import math
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from knowcast.web import listening
from knowcast.web.front import server_options
from tests.live_server import free_port

T = TypeVar("T")


def on_loop(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on Knowcast's loop (the tests' own loop is the stdlib's)."""
    loop = listening.Loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


class Echo(asyncio.Protocol):
    made = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Echo.made += 1
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


def _connect_all(port: int, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))  # EINPROGRESS: the kernel completes it meanwhile
        clients.append(client)
    return clients


def test_a_crowd_waiting_is_accepted_in_a_few_turns_and_each_is_served() -> None:
    """uvloop's own server takes one connection per turn: 300 waiting take 300 turns. Here they take one turn
    per ACCEPTS_PER_TURN, and every one gets its protocol and its answer."""
    count = 300

    async def main() -> int:
        Echo.made = 0
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0, backlog=1024)
        assert isinstance(server, listening.Listener)
        port = server.sockets[0].getsockname()[1]
        clients = _connect_all(port, count)
        time.sleep(0.3)  # the loop is busy: the kernel completes the handshakes and queues them
        turns = 0
        while Echo.made < count and turns < 10 * count:
            await asyncio.sleep(0)
            turns += 1
        for client in clients:
            client.setblocking(True)
            client.sendall(b"hi")
        answers = await asyncio.gather(*(asyncio.to_thread(client.recv, 2) for client in clients[:20]))
        assert answers == [b"hi"] * 20
        for client in clients:
            client.close()
        server.close()
        await server.wait_closed()
        return turns

    turns = on_loop(main)
    assert Echo.made == count
    assert turns <= math.ceil(count / listening.ACCEPTS_PER_TURN) + 2


def test_a_closed_listener_accepts_nothing_more() -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        assert server.is_serving()
        server.close()
        await server.wait_closed()
        assert not server.is_serving()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)

    on_loop(main)


def test_a_socket_handed_in_is_listened_on_and_served() -> None:
    """uvicorn's worker processes are each handed the bound socket the parent made."""

    async def main() -> bytes:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = await asyncio.get_running_loop().create_server(Echo, sock=sock)
        assert isinstance(server, listening.Listener)
        reader, writer = await asyncio.open_connection(*sock.getsockname())
        writer.write(b"hello")
        answer = await reader.readexactly(5)
        writer.close()
        server.close()
        return answer

    assert on_loop(main) == b"hello"


class Flaky(socket.socket):
    """A listening socket whose next accepts fail with the given errors, as the kernel's would."""

    failures: list[int]

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failures:
            code = self.failures.pop(0)
            raise OSError(code, errno.errorcode[code])
        return super().accept()


def _flaky(failures: list[int]) -> Flaky:
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    sock = Flaky(plain.family, plain.type, plain.proto, fileno=plain.detach())
    sock.failures = failures
    return sock


def test_out_of_file_descriptors_pauses_accepting_then_resumes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listening, "RETRY_AFTER", 0.05)

    async def main() -> bytes:
        sock = _flaky([errno.EMFILE])
        server = await asyncio.get_running_loop().create_server(Echo, sock=sock)
        reader, writer = await asyncio.open_connection(*sock.getsockname())
        writer.write(b"later")
        answer = await asyncio.wait_for(reader.readexactly(5), 5)  # served once the pause is over
        assert sock.failures == []
        writer.close()
        server.close()
        return answer

    assert on_loop(main) == b"later"


def test_a_connection_aborted_before_it_was_accepted_does_not_stop_the_others() -> None:
    async def main() -> bytes:
        sock = _flaky([errno.ECONNABORTED])
        server = await asyncio.get_running_loop().create_server(Echo, sock=sock)
        reader, writer = await asyncio.open_connection(*sock.getsockname())
        writer.write(b"next!")
        answer = await asyncio.wait_for(reader.readexactly(5), 5)
        assert sock.failures == []
        writer.close()
        server.close()
        return answer

    assert on_loop(main) == b"next!"


def test_what_it_does_not_serve_goes_to_uvloops_own_server(tmp_path: Any) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_unix_server(Echo, str(tmp_path / "s"))
        assert not isinstance(server, listening.Listener)
        server.close()
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(str(tmp_path / "u"))
        server = await asyncio.get_running_loop().create_server(Echo, sock=unix)
        assert not isinstance(server, listening.Listener)
        server.close()

    on_loop(main)


def test_uvicorn_serves_through_it_as_knowcast_serve_does() -> None:
    """`knowcast serve` hands uvicorn ``server_options``: its loop is this one and its server a Listener."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    options = {**server_options(), "http": "httptools"}
    assert options["loop"] == "knowcast.web.listening:Loop"
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", **options))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            time.sleep(0.01)
        assert isinstance(server.servers[0], listening.Listener)
        with httpx.Client() as client:
            assert [client.get(f"http://127.0.0.1:{port}/").text for _ in range(3)] == ["ok"] * 3
    finally:
        server.should_exit = True
        thread.join(10)
    assert not thread.is_alive()
