"""Load generator for `knowcast bench fanout`: lean WebSocket viewers on raw asyncio protocols (uvloop).

Written to cost as little per received frame as possible, so that it is not the bottleneck: the server's
frames are unmasked and each tick frame starts with ``{"seq":N,``, so a viewer reads the sequence number with
a slice and looks the frame's chat lines up in a per-process cache (every viewer receives the very same
frame); only the first viewer to receive a frame parses its JSON. Client frames use an all-zero mask key.

Talks to the orchestrator (benchmarks/fanout.py) over stdin/stdout: prints ``ready`` once its viewers have
joined, waits for ``go``, and after ``stop`` prints one JSON line with its counts and latency histogram.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import sys
import time
from typing import Any

HIST_MS = 30_000
MASK = b"\x00\x00\x00\x00"
KEY = base64.b64encode(os.urandom(16)).decode()


class Stats:
    def __init__(self) -> None:
        self.frames: dict[int, list[float]] = {}  # seq → the send times of the benchmark's lines in it
        self.arrivals: dict[tuple[int, int], int] = {}  # (seq, ms of arrival) → viewers; expanded at the end
        self.counting = False
        self.closed = 0
        self.errors = 0
        self.codes: dict[str, int] = {}
        self.retries = 0
        self.failed_joins = 0
        self.inbound = [0] * (HIST_MS + 1)

    def times_in(self, seq: int, payload: bytes) -> list[float]:
        times = self.frames.get(seq)
        if times is None:
            data = json.loads(payload)
            chat = [line for line in data.get("chat", ()) if line.get("cid", "").startswith("b")]
            times = [float(line["cid"][1:]) for line in chat]
            for line, sent in zip(chat, times, strict=True):  # sender → server, once per line
                self.inbound[min(HIST_MS, max(0, int(line["at"] - sent * 1000)))] += 1
            self.frames[seq] = times
        return times

    def latencies(self) -> tuple[list[int], int]:
        """The histogram of send → receipt in ms, and the lines delivered, from the counted arrivals."""
        hist, delivered = [0] * (HIST_MS + 1), 0
        for (seq, arrived_ms), viewers in self.arrivals.items():
            for sent in self.frames[seq]:
                hist[min(HIST_MS, max(0, arrived_ms - int(sent * 1000)))] += viewers
            delivered += viewers * len(self.frames[seq])
        return hist, delivered


def client_frame(message: dict[str, Any]) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, 0x80 | size)) + MASK + payload
    return bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big") + MASK + payload


HEARTBEAT = client_frame({"type": "heartbeat"})


class Viewer(asyncio.Protocol):
    def __init__(self, stats: Stats, request: bytes, joined: asyncio.Future[None]) -> None:
        self.stats = stats
        self.request = request
        self.joined = joined
        self.buf = b""
        self.upgraded = False
        self.last_seq = -1
        self.transport: asyncio.Transport | None = None
        self.started = time.monotonic()
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:  # small frames go out at once (no Nagle wait for an ACK)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.joined.done():
            self.stats.closed += 1
        if not self.joined.done():  # say how far it got, for diagnosis
            stage = "after the 101" if self.upgraded else "before the 101"
            elapsed = time.monotonic() - self.started
            self.joined.set_exception(
                ConnectionError(
                    f"closed {stage}, before the welcome, after {elapsed:.1f} s, {self.received} bytes: {exc!r}"
                )
            )

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                if not self.joined.done():
                    self.joined.set_exception(ConnectionError(f"handshake refused: {buf[:80]!r}"))
                if self.transport is not None:
                    self.transport.close()
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            self.send(client_frame({"type": "join", "v": 1}))
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 0x1:
                self.on_text(buf[pos + head : end])
            elif opcode == 0x8 and not self.joined.done():  # closed by the server before the welcome
                code = int.from_bytes(buf[pos + head : pos + head + 2], "big") if length >= 2 else 1005
                self.joined.set_exception(ConnectionError(f"closed before welcome with code {code}"))
            elif opcode == 0x9:  # the server's keepalive ping: answer, or it closes the socket
                data = buf[pos + head : end]
                self.send(bytes((0x8A, 0x80 | len(data))) + MASK + data)
            pos = end
        self.buf = buf[pos:] if pos < size else b""

    def on_text(self, payload: bytes) -> None:
        if payload.startswith(b'{"seq":'):
            comma = payload.index(b",", 7)
            seq = int(payload[7:comma])
            if seq <= self.last_seq:
                return
            self.last_seq = seq
            stats = self.stats
            if stats.counting and stats.times_in(seq, payload):  # one count per frame; lines expanded at the end
                key = (seq, int(time.time() * 1000))
                arrivals = stats.arrivals
                arrivals[key] = arrivals.get(key, 0) + 1
        elif not self.joined.done():
            message = json.loads(payload)
            if message.get("type") == "welcome":
                self.last_seq = message["seq"]
                self.joined.set_result(None)
            else:
                self.joined.set_exception(ConnectionError(str(message)))
        elif payload.startswith(b'{"type":"error"'):
            self.stats.errors += 1
            code = json.loads(payload).get("code", "?")
            self.stats.codes[code] = self.stats.codes.get(code, 0) + 1


async def open_viewer(host: str, port: int, path: str, stats: Stats, cookie: str | None = None) -> Viewer:
    loop = asyncio.get_running_loop()
    headers = [
        f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13",
    ]  # fmt: skip
    if cookie:
        headers.append(f"Cookie: kc_session={cookie}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode()
    joined: asyncio.Future[None] = loop.create_future()
    _, viewer = await loop.create_connection(lambda: Viewer(stats, request, joined), host, port)
    await asyncio.wait_for(joined, 60)
    return viewer


async def connect_all(args: argparse.Namespace, stats: Stats) -> list[Viewer]:
    gate = asyncio.Semaphore(args.concurrency)
    path = f"/api/v1/rooms/{args.room}/live"

    async def one() -> Viewer | None:
        for attempt in range(4):  # like a browser: a refused or dropped join is tried again
            try:
                async with gate:
                    return await open_viewer(args.host, args.port, path, stats)
            except (OSError, TimeoutError) as error:  # ConnectionError is an OSError
                stats.retries += 1
                print(f"join {attempt + 1} of 4 failed: {error!r}"[:300], file=sys.stderr)
                await asyncio.sleep(1)
        stats.failed_joins += 1  # reported: the run goes on with the viewers that joined
        return None

    return [viewer for viewer in await asyncio.gather(*(one() for _ in range(args.viewers))) if viewer is not None]


async def heartbeats(viewers: list[Viewer], every: float = 15.0) -> None:
    """Each viewer heartbeats every ``every`` seconds, spread evenly over the period."""
    if not viewers:
        return
    step = every / len(viewers)
    batch = max(1, int(0.05 / step))
    index = 0
    while True:
        for viewer in viewers[index : index + batch]:
            viewer.send(HEARTBEAT)
        index = (index + batch) % len(viewers)
        await asyncio.sleep(step * batch)


async def send_chat(senders: list[Viewer], rate: float, duration: float) -> int:
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    total = int(rate * duration)
    while sent < total:
        due = start + sent / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        cid = f"b{time.time():.6f}"
        senders[sent % len(senders)].send(client_frame({"type": "chat", "text": f"压测消息 {sent}", "cid": cid}))
        sent += 1
    return sent


async def main(args: argparse.Namespace) -> None:
    stats = Stats()
    viewers = await connect_all(args, stats)
    tokens = json.loads(args.senders) if args.senders else []
    path = f"/api/v1/rooms/{args.room}/live"
    sender_stats = Stats()
    senders = [await open_viewer(args.host, args.port, path, sender_stats, token) for token in tokens]
    beating = asyncio.create_task(heartbeats(viewers + senders))
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    await reader.readline()  # go
    stats.counting = True
    cpu0, wall0 = _cpu(), time.monotonic()
    sent = await send_chat(senders, args.rate, args.duration) if senders else 0
    await reader.readline()  # stop
    cpu, wall = _cpu() - cpu0, time.monotonic() - wall0
    beating.cancel()
    errors = stats.errors + sender_stats.errors
    if errors:
        print(json.dumps({**stats.codes, **sender_stats.codes}), file=sys.stderr)
    if stats.counting and sum(stats.inbound):
        spread = "/".join(str(_pct(stats.inbound, q)) for q in (0.1, 0.5, 0.9, 0.99))
        print(f"sender→server p10/p50/p90/p99 ms: {spread}", file=sys.stderr)
    hist, delivered = stats.latencies()
    result = {"viewers": len(viewers), "failed_joins": stats.failed_joins, "retries": stats.retries, "sent": sent,
              "delivered": delivered, "closed": stats.closed, "errors": errors, "cpu_s": cpu, "wall_s": wall,
              "hist": _sparse(hist)}  # fmt: skip
    print(json.dumps(result), flush=True)


def _pct(hist: list[int], q: float) -> int:
    total, seen = sum(hist), 0
    for ms, count in enumerate(hist):
        seen += count
        if seen >= q * total:
            return ms
    return HIST_MS


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _sparse(hist: list[int]) -> dict[int, int]:
    return {ms: count for ms, count in enumerate(hist) if count}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--room", type=int, required=True)
    parser.add_argument("--viewers", type=int, required=True)
    parser.add_argument("--senders", default="", help="JSON list of session tokens; this process sends chat")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=200)
    return parser.parse_args()


if __name__ == "__main__":
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    try:
        import uvloop

        uvloop.run(main(parse()))
    except ImportError:
        asyncio.run(main(parse()))
