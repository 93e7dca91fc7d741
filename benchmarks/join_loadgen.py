"""Load generator for `knowcast bench join`: simulated browsers opening one room, on raw asyncio (uvloop).

Each browser arrives at its own moment (spread evenly over the run across all load generator processes),
then does what the room page makes a browser do: ``GET /rooms/{id}`` on a fresh keep-alive connection; opens a
second connection (browsers fetch in parallel) and loads every ``/static/`` file the page links, split over
the two, each once (a browser with an empty cache; hashed files are ``immutable``, so it would never ask
again), accepting brotli and gzip — of the page's icons only the one favicon a browser shows (the first
``rel="icon"``, none when that is a ``data:`` URI; ``apple-touch-icon`` is read only when a phone saves the
page to its home screen); then, as the page's modules do, opens the live WebSocket, sends ``join`` with the
analytics ``view_start`` in it (static/js/_track.js hands the events waiting for the socket to its join frame)
and waits for ``welcome``, which carries the room's commerce snapshot (``commerce``; when it does not, the
browser then fetches ``GET /api/v1/rooms/{id}/commerce`` as the page would). The time from arrival to
``welcome`` (and that fetch, when there is one) is what is measured. The socket then stays open,
as a viewer's does, reading and discarding the room's ticks until the orchestrator says ``stop``.

Protocol with the orchestrator (benchmarks/join.py): reads the job file, connects nothing until ``go``,
prints ``done`` when every browser has joined or failed, then on ``stop`` closes the sockets and writes its
report beside the job file (``<job>.<index>.out``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import re
import resource
import sys
import time
from collections import Counter
from typing import Any, cast

ASSET = re.compile(rb'(?:src|href)="(/static/[^"#]+)')  # an icon sprite's #fragment is the same file
ICON_LINK = re.compile(rb'<link rel="(?:icon|apple-touch-icon)" href="([^"]+)"')
MASK = b"\x00\x00\x00\x00"
KEY = base64.b64encode(os.urandom(16)).decode()
BROWSER_TIMEOUT = 60.0


class Failed(Exception):
    """One browser's join failed; the message is the reason counted in the report."""


class Http(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, Content-Length or chunked bodies."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            parsed = parse_response(self.buffer)
            if parsed is not None:
                self.waiter.set_result(parsed)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(Failed("connection_closed"))

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    async def request(self, raw: bytes) -> tuple[int, bytes, bytes]:
        if not self.usable:
            raise Failed("connection_closed")
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def parse_response(buffer: bytearray) -> tuple[int, bytes, bytes] | None:
    """(status, lower-cased head, body) of the first complete response in ``buffer``, which loses it."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    start = end + 4
    if b"\r\ntransfer-encoding: chunked" in head:
        body, pos = bytearray(), start
        while True:
            line_end = buffer.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buffer[pos:line_end]).split(b";")[0], 16)
            if len(buffer) < line_end + 2 + size + 2:
                return None
            body += buffer[line_end + 2 : line_end + 2 + size]
            pos = line_end + 2 + size + 2
            if size == 0:
                del buffer[:pos]
                return int(head[9:12]), head, bytes(body)
    at = head.find(b"\r\ncontent-length:")
    length = (
        int(head[at + 17 : head.find(b"\r\n", at + 2) if head.find(b"\r\n", at + 2) > 0 else None]) if at >= 0 else 0
    )
    if len(buffer) < start + length:
        return None
    body_bytes = bytes(buffer[start : start + length])
    del buffer[: start + length]
    return int(head[9:12]), head, body_bytes


class Live(asyncio.Protocol):
    """The viewer's WebSocket: upgrade, ``join`` (with the view start), then the first frame must be the
    ``welcome``."""

    def __init__(self, request: bytes, welcomed: asyncio.Future[None], join: bytes) -> None:
        self.request = request
        self.welcomed = welcomed
        self.join = join
        self.buffer = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.received = 0
        self.commerce = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.welcomed.done():
            return  # the room's ticks after the welcome: read and dropped
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.welcomed.set_exception(Failed("ws_" + self.buffer[9:12].decode("latin-1")))
                return
            self.upgraded = True
            self.buffer = self.buffer[end + 4 :]
            assert self.transport is not None
            self.transport.write(self.join)
        payload = first_frame(self.buffer)
        if payload is None:
            return
        if b'"type":"welcome"' in payload[:64]:
            self.commerce = b'"commerce":{' in payload  # the room's commerce snapshot rode the welcome
            self.welcomed.set_result(None)
        else:
            self.welcomed.set_exception(Failed("ws_" + payload[:60].decode("utf-8", "replace")))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.welcomed.done():
            self.welcomed.set_exception(Failed("ws_closed"))


def first_frame(buffer: bytes) -> bytes | None:
    if len(buffer) < 2:
        return None
    length, head = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, head = int.from_bytes(buffer[2:4], "big"), 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, head = int.from_bytes(buffer[2:10], "big"), 10
    return buffer[head : head + length] if len(buffer) >= head + length else None


def client_frame(message: dict[str, Any]) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, 0x80 | size)) + MASK + payload
    return bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big") + MASK + payload


class Browser:
    """What one browser holds (cookies, the CSRF token its page carries) and the requests it makes."""

    def __init__(self, job: dict[str, Any], spec: dict[str, Any], number: int) -> None:
        self.host = f"127.0.0.1:{job['port']}"
        self.room = job["room_id"]
        session = f"kc_session={spec['token']}; " if spec.get("token") else ""
        self.cookie = f"{session}kc_csrf={spec['nonce']}; kc_consent=analytics"
        self.csrf = spec["csrf"]
        self.number = number

    def get(self, path: str, extra: str = "") -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: knowcast-bench-join\r\n"
            f"Accept-Encoding: gzip, deflate, br\r\nCookie: {self.cookie}\r\n{extra}\r\n"
        ).encode()

    def join(self) -> bytes:
        """The join frame as the page sends it: its view start, waiting for the socket, rides along."""
        event = {"kind": "view_start", "room_id": self.room, "view_id": f"join{self.number:018d}"}
        return client_frame({"type": "join", "v": 1, "events": [{**event, "at": int(time.time() * 1000)}]})

    def upgrade(self) -> bytes:
        return (
            f"GET /api/v1/rooms/{self.room}/live HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{self.host}\r\nCookie: {self.cookie}\r\n\r\n"
        ).encode()


class Run:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.latencies: list[float] = []
        self.phases: list[tuple[float, float, float]] = []  # each joined browser's page, static files, live socket
        self.errors: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.sockets: list[asyncio.Transport] = []
        self.bytes = 0

    async def connect(self, protocol: asyncio.Protocol) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: protocol, "127.0.0.1", self.job["port"])
        except OSError as exc:
            raise Failed(f"connect_{type(exc).__name__}") from None

    async def fetch(self, conn: Http, raw: bytes, kind: str, ok: tuple[int, ...] = (200,)) -> bytes:
        try:
            status, _head, body = await conn.request(raw)
        except Failed:  # the server closed the idle keep-alive connection: a browser opens another and retries
            if conn.buffer:
                raise
            self.requests["reconnect"] += 1
            conn.transport = None
            await self.connect(conn)
            status, _head, body = await conn.request(raw)
        if status not in ok:
            raise Failed(f"{kind}_http_{status}")
        self.requests[kind] += 1
        self.bytes += len(body)
        return body

    async def browser(self, spec: dict[str, Any], number: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        arrived = time.monotonic()
        first, second = Http(), Http()
        marks = [arrived]
        try:
            await asyncio.wait_for(
                self.open_room(Browser(self.job, spec, number), first, second, marks), BROWSER_TIMEOUT
            )
            self.latencies.append(time.monotonic() - arrived)
            page, assets, live = (b - a for a, b in itertools.pairwise(marks))
            self.phases.append((page, assets, live))
        except Failed as failed:
            self.errors[str(failed)] += 1
        except TimeoutError:
            self.errors["timeout"] += 1
        except Exception as exc:  # one browser's surprise is counted, never the end of the run
            self.errors[f"{type(exc).__name__}"] += 1
        finally:
            first.close()
            second.close()

    async def open_room(self, browser: Browser, first: Http, second: Http, marks: list[float]) -> None:
        await self.connect(first)
        page = await self.fetch(first, browser.get(f"/rooms/{browser.room}", "Accept: text/html\r\n"), "page")
        marks.append(time.monotonic())
        assets = page_assets(page)
        await self.connect(second)
        await asyncio.gather(self.assets(first, browser, assets[0::2]), self.assets(second, browser, assets[1::2]))
        marks.append(time.monotonic())
        welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        live = Live(browser.upgrade(), welcomed, browser.join())
        await asyncio.gather(self.connect(live), welcomed)
        self.requests["welcome"] += 1
        self.requests["events"] += 1
        if live.commerce:
            self.requests["commerce"] += 1
        else:  # as the page does when the welcome brings no snapshot: it asks the route
            commerce = browser.get(f"/api/v1/rooms/{browser.room}/commerce", "Accept: application/json\r\n")
            await self.fetch(first, commerce, "commerce")
        marks.append(time.monotonic())
        if live.transport is not None:
            self.sockets.append(live.transport)

    async def assets(self, conn: Http, browser: Browser, paths: list[str]) -> None:
        for path in paths:
            await self.fetch(conn, browser.get(path), "asset")


def page_assets(page: bytes) -> list[str]:
    """The static files a browser with an empty cache fetches for this page, each once, in page order."""
    icons = ICON_LINK.findall(page)
    unused = set(icons[1:]) - set(icons[:1])
    return list(dict.fromkeys(m.decode() for m in ASSET.findall(page) if m not in unused))


async def worker(job: dict[str, Any], index: int, workers: int) -> dict[str, Any]:
    browsers: list[dict[str, Any]] = job["browsers"]
    total, seconds = len(browsers), float(job["seconds"])
    run = Run(job)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit("expected go")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    mine = range(index, total, workers)
    await asyncio.gather(*(run.browser(browsers[n], n, started + seconds * n / total) for n in mine))
    ended = time.monotonic()
    after = resource.getrusage(resource.RUSAGE_SELF)
    print("done", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop": the viewers leave
    for transport in run.sockets:
        transport.close()
    return {
        "browsers": len(mine),
        "joined": len(run.latencies),
        "latencies": run.latencies,
        "phases": run.phases,
        "errors": dict(run.errors),
        "requests": dict(run.requests),
        "bytes": run.bytes,
        "started": started,
        "ended": ended,
        "cpu_s": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="join-storm load generator worker")
    parser.add_argument("job")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with open(args.job) as handle:
        job = json.load(handle)
    report = asyncio.run(worker(job, args.index, args.workers))
    with open(f"{args.job}.{args.index}.out", "w") as out:  # a file: a big line on a pipe may be cut short
        json.dump(report, out)
    print("written", flush=True)


if __name__ == "__main__":
    main()
