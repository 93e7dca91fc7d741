"""Load generator for `knowcast bench flash-sale`: one worker process of several, on raw asyncio protocols.

Each buyer makes one attempt the way the viewer's page does: ``POST /api/v1/flash-sales/<id>/attempts`` with
its session cookie, its own CSRF cookie and the matching ``X-CSRF-Token`` header, over keep-alive HTTP/1.1
connections (round robin over the server ports). Built to cost as little as possible per attempt so that it
is not what the benchmark measures: every request's bytes are built before the clock starts, a connection
is an ``asyncio.Protocol`` (uvloop when installed) that sends the next buyer's request from its
``data_received``, and a response is read by its status line, its Content-Length and the ``outcome`` field
of its body, without a JSON parser.

Talks to the orchestrator (benchmarks/flash_sale.py) over stdin/stdout: lets its buyers open the room first
(untimed), prints ``ready``, waits for ``go``, fires, writes its report beside the job file (``<job>.<index>.out``:
outcomes, latencies by outcome, its start and end on the monotonic clock, which the processes of one machine
share, and the CPU time it used while firing) and prints ``done``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter
from typing import Any, cast

OUTCOME = b'"outcome":"'


def cookies(buyer: dict[str, Any]) -> str:
    """What the buyer's browser holds for the site: session, CSRF nonce, and the consent banner's answer."""
    consent = "; kc_consent=analytics" if buyer.get("consent") else ""
    return f"kc_session={buyer['token']}; kc_csrf={buyer['nonce']}{consent}"


def post(path: str, port: int, buyer: dict[str, Any], body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\nX-CSRF-Token: {buyer['csrf']}\r\n"
        f"Cookie: {cookies(buyer)}\r\n\r\n"
    ).encode() + body


def attempt_request(path: str, port: int, buyer: dict[str, Any]) -> bytes:
    """The page's tap: one unit, with the retry key the page keeps for this sale (so a retry is the same try)."""
    return post(path, port, buyer, json.dumps({"quantity": 1, "idempotency_key": buyer["key"]}).encode())


def visit_requests(visit: dict[str, Any], port: int, buyer: dict[str, Any], n: int) -> list[bytes]:
    """The room page opening: its commerce snapshot, and (on one process) the view that analytics counts."""
    get = f"GET {visit['commerce']} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookies(buyer)}\r\n\r\n"
    if not visit.get("events"):
        return [get.encode()]
    event = {
        "kind": "view_start",
        "room_id": visit["room_id"],
        "view_id": f"bench{n:019d}",
        "at": int(time.time() * 1000),
    }
    return [get.encode(), post(visit["events"], port, buyer, json.dumps({"events": [event]}).encode())]


class Results:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = {}

    def add(self, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self.latencies.setdefault(outcome, []).append(seconds)


class Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, reads its response, sends the next, until none is left."""

    def __init__(self, requests: list[bytes], results: Results | None, done: asyncio.Future[None]) -> None:
        self.requests = requests
        self.results = results
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.sent_at = 0.0
        self.waiting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if not self.requests:
            self.transport.close()
            return
        self.waiting = True
        self.sent_at = time.perf_counter()
        self.transport.write(self.requests.pop())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        end = head_end + 4 + content_length(self.buffer[:head_end].lower())
        if len(self.buffer) < end:
            return
        elapsed = time.perf_counter() - self.sent_at
        status, body, self.buffer = self.buffer[9:12], self.buffer[head_end + 4 : end], self.buffer[end:]
        self.waiting = False
        if self.results is not None:
            self.results.add(outcome_of(status, body), elapsed)
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting and self.results is not None:
            self.results.add("connection_error", time.perf_counter() - self.sent_at)
        if not self.done.done():
            self.done.set_result(None)


def content_length(head: bytes) -> int:
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    line_end = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : line_end if line_end > 0 else len(head)])


def outcome_of(status: bytes, body: bytes) -> str:
    if status != b"200":
        return "http_" + status.decode("latin-1")
    at = body.find(OUTCOME)
    if at < 0:
        return "unknown"
    start = at + len(OUTCOME)
    return body[start : body.find(b'"', start)].decode("latin-1")


async def run(queues: list[tuple[int, list[bytes]]], results: Results | None) -> None:
    """Every (port, shared request list) pair gets one connection; reconnects after a broken one."""
    loop = asyncio.get_running_loop()

    async def connection(port: int, requests: list[bytes]) -> None:
        while requests:
            done: asyncio.Future[None] = loop.create_future()
            protocol = Connection(requests, results, done)
            try:
                await loop.create_connection(lambda: protocol, "127.0.0.1", port)  # noqa: B023 (awaited here)
            except OSError:
                if results is not None:
                    results.add("connection_error", 0.0)
                    requests.pop()
                continue
            await done

    await asyncio.gather(*(connection(port, requests) for port, requests in queues))


async def worker(job: dict[str, Any], index: int, workers: int) -> dict[str, Any]:
    ports: list[int] = job["ports"]
    buyers: list[dict[str, Any]] = job["buyers"][index::workers]
    connections = max(1, len(range(index, job["connections"], workers)))
    if job.get("visit"):  # each buyer opens the room first, on every process: untimed
        for k, port in enumerate(ports):
            visit = {**job["visit"], "events": job["visit"]["events"] if k == 0 else None}
            visits = [r for n, b in enumerate(buyers) for r in visit_requests(visit, port, b, n * workers + index)]
            await run([(port, visits[::-1])] * min(32, connections), None)
    # the buyers of this worker in one list per port, each request built for the port it will go to
    shares = [list(reversed(buyers[n :: len(ports)])) for n in range(len(ports))]
    per_port = [
        [attempt_request(job["path"], port, b) for b in share] for port, share in zip(ports, shares, strict=True)
    ]
    queues = [(ports[n % len(ports)], per_port[n % len(ports)]) for n in range(connections)]
    results = Results()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("expected go")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    await run(queues, results)
    ended = time.monotonic()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "attempts": len(buyers),
        "outcomes": dict(results.outcomes),
        "latencies": results.latencies,
        "started": started,
        "ended": ended,
        "cpu_s": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="flash-sale load generator worker")
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
    print("done", flush=True)


if __name__ == "__main__":
    main()
