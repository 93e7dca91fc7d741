"""Load generator for `knowcast bench flash-sale`: raw HTTP/1.1 keep-alive connections, each firing buyer
after buyer (one attempt per buyer, cookie + CSRF header like the viewer's page), round robin over the
server ports. Reads a job file, prints one JSON line with outcomes, throughput and latency percentiles."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any


async def connection(port: int, queue: list[str], job: dict[str, Any], stats: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"quantity":1}'
    try:
        while queue:
            token = queue.pop()
            request = (
                f"POST {job['path']} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json\r\nContent-Length: {len(body)}\r\nX-CSRF-Token: {job['csrf']}\r\n"
                f"Cookie: kc_session={token}; kc_csrf={job['nonce']}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            try:
                writer.write(request)
                status, payload = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                stats["outcomes"]["connection_error"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            elapsed = time.perf_counter() - started
            stats["latencies"].append(elapsed)
            outcome = "http_" + str(status)
            if status == 200:
                outcome = json.loads(payload).get("outcome", "unknown")
            stats["outcomes"][outcome] += 1
            stats["by_outcome"].setdefault(outcome, []).append(elapsed)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def warm(port: int, queue: list[str], path: str) -> None:
    """Each buyer opens the room first (its page loads the commerce snapshot): untimed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while queue:
            token = queue.pop()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: kc_session={token}\r\n\r\n".encode())
            await read_response(reader)
    finally:
        writer.close()


async def main(job: dict[str, Any]) -> dict[str, Any]:
    ports = job["ports"]
    if job.get("warm_path"):
        for port in ports:  # a buyer's attempt may land on any process
            warm_queue = list(job["tokens"])
            await asyncio.gather(*(warm(port, warm_queue, job["warm_path"]) for _ in range(32)))
    queue = list(reversed(job["tokens"]))
    stats: dict[str, Any] = {"outcomes": Counter(), "latencies": [], "by_outcome": {}}
    started = time.perf_counter()
    await asyncio.gather(*(connection(ports[i % len(ports)], queue, job, stats) for i in range(job["connections"])))
    elapsed = time.perf_counter() - started
    latencies = sorted(stats["latencies"])
    definite = sum(stats["outcomes"][k] for k in ("won", "sold_out", "limit_reached"))

    def pct(p: float, values: list[float] = latencies) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1) if values else 0.0

    by_outcome = {k: sorted(v) for k, v in stats["by_outcome"].items()}

    return {
        "attempts": len(job["tokens"]),
        "unanswered": len(job["tokens"]) - definite,
        "attempts_per_s": round(len(job["tokens"]) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "outcomes": dict(stats["outcomes"]),
        "p99_ms_by_outcome": {k: pct(0.99, v) for k, v in by_outcome.items()},
        "p50_ms_by_outcome": {k: pct(0.50, v) for k, v in by_outcome.items()},
    }


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with open(sys.argv[1]) as handle:
        print(json.dumps(asyncio.run(main(json.load(handle)))))
