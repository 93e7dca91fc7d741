"""CPU per flash-sale attempt inside the server process, without the network: `python -m benchmarks.flash_cpu`.

The machine the benchmarks run on is shared, so wall-clock throughput is noisy; CPU time spent by this
process (``time.process_time``, all threads, the SQLite writer's included) per attempt is not. Prepares the
same database as `knowcast bench flash-sale` (benchmarks/flash_sale.py), starts the app's components, lets
every buyer open the room (untimed, as in the benchmark), then sends every buyer's attempt through one of:

- ``uvicorn``: the request's bytes fed to uvicorn's httptools protocol serving the app as `knowcast serve`
  does (its proxy-headers layer, then the fast path in front of the app) on a transport that only collects
  what is written: HTTP parsing, the ASGI app and the response's bytes, the server's all but the kernel's;
- ``asgi``: what uvicorn calls (the app: ``KnowcastApp``, whose ``front`` is the fast path) called directly with an
  ASGI scope;
- ``front``: the fast path itself (``app.front``) called directly with an ASGI scope.

Prints one JSON line: CPU µs per attempt over the crowd (every buyer once, ``--connections`` at a time, so
that winners are written in batches as in the benchmark, through the first layer given), then CPU µs per
loser: every buyer tries again ``--rounds`` times after the stock has gone (sold out, or limit reached for
the winners: what 95 % of a crowd gets), through each layer in turn, so that layers compared in one run
share the machine's load; min and median over the rounds. ``--profile FILE`` writes a cProfile of the
losers' rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.flash_loadgen import attempt_request, visit_requests
from benchmarks.flash_sale import browsers, env_for, prepare_kept, settings_from

Send = Callable[[bytes], Awaitable[bytes]]


class GcClock:
    """CPU time spent in the garbage collector, per generation, while counting."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds[info["generation"]] += time.process_time() - self._started
            self.runs[info["generation"]] += 1

    def reset(self) -> None:
        self.seconds, self.runs = [0.0, 0.0, 0.0], [0, 0, 0]

    def summary(self, attempts: int) -> dict[str, Any]:
        return {
            "runs_by_generation": self.runs,
            "us_per_attempt": round(sum(self.seconds) / attempts * 1e6, 1),
        }


class Collector:
    """An asyncio transport that keeps what the server writes and wakes whoever waits for a full response."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None

    def write(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).lower()
        length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        if len(self.buffer) >= end + 4 + length:
            response = bytes(self.buffer[: end + 4 + length])
            del self.buffer[: end + 4 + length]
            self.waiter.set_result(response)
            self.waiter = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, _protocol: Any) -> None:
        pass


def via_uvicorn(app: Any) -> Send:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None, proxy_headers=True)
    config.load()
    protocol = HttpToolsProtocol(config, ServerState(), {})
    transport = Collector()
    protocol.connection_made(transport)  # type: ignore[arg-type]

    async def send(request: bytes) -> bytes:
        transport.waiter = asyncio.get_running_loop().create_future()
        protocol.data_received(request)
        return await transport.waiter

    return send


def via_asgi(app: Any, outer: Any) -> Send:
    async def send(request: bytes) -> bytes:
        head, _, body = request.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        method, path, _ = lines[0].decode().split(" ")
        headers = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(b":") for line in lines[1:])]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
            "app": outer,  # as Starlette sets it for the layers below
        }
        sent = False
        out: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def reply(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out.append(b"HTTP/1.1 %d\r\n\r\n" % message["status"])
            else:
                out.append(message.get("body", b""))

        await app(scope, receive, reply)
        return b"".join(out)

    return send


async def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from knowcast.app import create_app

    env = env_for(tmp, argparse.Namespace(database=None, redis=None, session_cache=None), 8000)
    settings = settings_from(env)
    room_id, sale_id, tokens = await prepare_kept(settings, args.buyers, args.stock, args.keep, tmp)
    app = create_app(settings)
    buyers = browsers(tokens, consent=not args.no_consent)
    path = f"/api/v1/flash-sales/{sale_id}/attempts"
    requests = [attempt_request(path, 8000, buyer) for buyer in buyers]
    visit = {"commerce": f"/api/v1/rooms/{room_id}/commerce", "events": "/api/v1/analytics/events", "room_id": room_id}
    outcomes: Counter[str] = Counter()
    layers = args.via.split(",")

    async def connection(queue: list[bytes], via: str) -> None:
        assert app.front is not None  # the flash-sale fast path, ahead of the app (knowcast.app.KnowcastApp)
        send = via_uvicorn(app) if via == "uvicorn" else via_asgi(app.front if via == "front" else app, app)
        while queue:
            response = await send(queue.pop())
            head, _, body = response.partition(b"\r\n\r\n")
            outcome = json.loads(body).get("outcome", head.split(b"\r\n", 1)[0].decode())
            outcomes[outcome] += 1

    async def timed(queue: list[bytes], via: str) -> tuple[float, float, dict[str, int]]:
        outcomes.clear()
        collector.reset()
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(connection(queue, via) for _ in range(args.connections)))
        return time.process_time() - cpu, time.perf_counter() - wall, dict(outcomes)

    profile = cProfile.Profile() if args.profile else None
    per_loser: dict[str, list[float]] = {via: [] for via in layers}
    collector = GcClock()
    async with app.router.lifespan_context(app):
        visits = [r for n, buyer in enumerate(buyers) for r in visit_requests(visit, 8000, buyer, n)]
        if not args.cold:
            await connection(visits[::-1], "asgi")  # the room page visit: untimed
        idle_cpu = time.process_time()
        await asyncio.sleep(args.idle)  # what the server does on its own meanwhile (analytics, sweeper, ...)
        idle_cpu = time.process_time() - idle_cpu
        if args.gc_freeze:
            gc.freeze()
        if profile and args.profile_crowd:
            profile.enable()
        crowd_cpu, crowd_wall, crowd = await timed(list(reversed(requests)), layers[0])
        crowd_gc = collector.summary(len(requests))
        if profile:
            profile.enable()
        for _ in range(args.rounds):  # everyone again: sold out (or limit reached), layer after layer
            for via in layers:
                losers_cpu, _, losers = await timed(list(requests), via)
                per_loser[via].append(losers_cpu / len(requests) * 1e6)
                losers_gc = collector.summary(len(requests))
        if profile:
            profile.disable()
            profile.dump_stats(args.profile)
    return {
        "via": layers[0],
        "attempts": len(requests),
        "cpu_us_per_attempt": round(crowd_cpu / len(requests) * 1e6, 1),
        "wall_s": round(crowd_wall, 3),
        "outcomes": crowd,
        "gc_in_crowd": crowd_gc,
        "cpu_us_per_loser": {
            via: {"min": round(min(v), 1), "median": round(statistics.median(v), 1)}
            for via, v in per_loser.items()
            if v
        },
        "loser_outcomes": losers if args.rounds else {},
        "gc_in_last_losers_round": losers_gc if args.rounds else {},
        "idle_cpu_pct": round(idle_cpu / args.idle * 100, 1) if args.idle else None,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--buyers", type=int, default=3000)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--via", default="uvicorn", help="uvicorn, front or asgi; a comma list alternates them")
    parser.add_argument("--connections", type=int, default=64, help="attempts in flight at once")
    parser.add_argument("--rounds", type=int, default=2, help="times every buyer tries again per layer")
    parser.add_argument("--profile-crowd", action="store_true", help="profile the crowd too, not only the losers")
    parser.add_argument("--cold", action="store_true", help="skip the buyers' room_page visit before the sale")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() before the crowd")
    parser.add_argument("--no-consent", action="store_true", help="buyers who did not accept analytics cookies")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of no requests, to measure background CPU")
    parser.add_argument("--keep", default=None, help="folder keeping prepared databases between runs")
    parser.add_argument("--profile", default=None, help="write a cProfile of the timed attempts to this file")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="kc-flash-cpu-") as tmp:
        print(json.dumps(asyncio.run(measure(args, Path(tmp)))))


if __name__ == "__main__":
    main()
