"""CPU cost of writing one tick frame to N loopback sockets, per write strategy (a microbenchmark).

    .venv/bin/python benchmarks/fanout_writes.py --sockets 5000 --ticks 40

A receiver process holds N TCP connections (uvloop, counting bytes); this process accepts them and writes a
``--size``-byte frame to every socket once per 200 ms tick with each strategy in turn. For each strategy it
prints the CPU per write (this process's, all threads), the loop thread's CPU per write, how long the event
loop was blocked at a stretch (the longest time a 1 ms timer waited), and the wall time of a tick's writes.
CPU is what counts on a shared machine; wall times there are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

TICK = 0.2


class Sink(asyncio.Protocol):
    received = 0

    def data_received(self, data: bytes) -> None:
        Sink.received += len(data)


async def receive(port: int, count: int) -> None:
    loop = asyncio.get_running_loop()
    for start in range(0, count, 200):
        await asyncio.gather(*(loop.create_connection(Sink, "127.0.0.1", port) for _ in range(min(200, count - start))))
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cpu0 = time.process_time()
    await reader.readline()
    print(json.dumps({"received": Sink.received, "cpu_s": time.process_time() - cpu0}), flush=True)


TRANSPORTS: list[asyncio.Transport] = []
ALL_CONNECTED = asyncio.Event()


class Accept(asyncio.Protocol):
    wanted = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        TRANSPORTS.append(transport)  # type: ignore[arg-type]
        if len(TRANSPORTS) >= Accept.wanted:
            ALL_CONNECTED.set()

    def data_received(self, data: bytes) -> None:
        pass


def checked_write(transport: asyncio.Transport, frame: bytes) -> None:
    """What Connection.write does: a closing check, a buffer bound, then the write."""
    if transport.is_closing() or transport.get_write_buffer_size() > 262_144:
        return
    transport.write(frame)


async def plain(transports: list[asyncio.Transport], frame: bytes, _slice: int) -> None:
    for transport in transports:
        checked_write(transport, frame)


async def sliced(transports: list[asyncio.Transport], frame: bytes, size: int) -> None:
    for start in range(0, len(transports), size):
        for transport in transports[start : start + size]:
            checked_write(transport, frame)
        await asyncio.sleep(0)


def fds_of(transports: list[asyncio.Transport]) -> list[int]:
    return [transport.get_extra_info("socket").fileno() for transport in transports]


async def threaded(transports: list[asyncio.Transport], frame: bytes, _slice: int, workers: int = 1) -> None:
    """os.write from worker threads: the syscall runs without the GIL, beside the loop."""
    fds = FDS or fds_of(transports)
    FDS[:] = fds
    chunks = [fds[i::workers] for i in range(workers)]
    loop = asyncio.get_running_loop()

    def write_all(chunk: list[int]) -> None:
        for fd in chunk:
            with contextlib.suppress(BlockingIOError):  # a full socket: this benchmark only counts
                os.write(fd, frame)

    await asyncio.gather(*(loop.run_in_executor(None, write_all, chunk) for chunk in chunks))


FDS: list[int] = []


async def lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.001)
        lags.append(loop.time() - before - 0.001)


async def measure(name: str, strategy: Callable[..., Any], args: argparse.Namespace, frame: bytes) -> None:
    transports = TRANSPORTS
    stop, lags = asyncio.Event(), list[float]()
    probe = asyncio.create_task(lag_probe(stop, lags))
    cpu, thread_cpu, walls = 0.0, 0.0, []
    for _ in range(args.ticks):
        await asyncio.sleep(TICK)
        c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
        await strategy(transports, frame, args.slice)
        walls.append(time.perf_counter() - w0)
        cpu += time.process_time() - c0
        thread_cpu += time.thread_time() - t0
    stop.set()
    await probe
    writes = args.ticks * len(transports)
    walls.sort()
    print(
        f"{name:>16}: {1e6 * cpu / writes:5.1f} µs CPU/write, loop thread {1e6 * thread_cpu / writes:5.1f} µs, "
        f"loop blocked max {1000 * max(lags):6.1f} ms, tick wall p50 {1000 * walls[len(walls) // 2]:6.1f} ms",
        flush=True,
    )


def spawn_receiver(port: int, sockets: int) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--receive", str(port), "--sockets", str(sockets)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    Accept.wanted = args.sockets
    server = await loop.create_server(Accept, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    receiver = await loop.run_in_executor(None, spawn_receiver, port, args.sockets)
    assert receiver.stdout is not None and receiver.stdin is not None
    await loop.run_in_executor(None, receiver.stdout.readline)
    await ALL_CONNECTED.wait()
    frame = b"\x81\x7e" + (args.size - 4).to_bytes(2, "big") + b"x" * (args.size - 4)
    print(f"{args.sockets} sockets, {args.size}-byte frames, {args.ticks} ticks of {TICK * 1000:.0f} ms", flush=True)
    strategies: dict[str, Callable[..., Any]] = {
        "plain": plain,
        f"slices of {args.slice}": sliced,
        "1 thread": threaded,
        "2 threads": lambda t, f, s: threaded(t, f, s, 2),
    }
    for name, strategy in strategies.items():
        if args.only and args.only not in name:
            continue
        await measure(name, strategy, args, frame)
    receiver.stdin.write("stop\n")
    receiver.stdin.flush()
    report = json.loads(await loop.run_in_executor(None, receiver.stdout.readline))
    print(f"receiver CPU {report['cpu_s']:.2f} s for {report['received'] / 1e6:.1f} MB", flush=True)
    receiver.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--ticks", type=int, default=40)
    parser.add_argument("--size", type=int, default=600)
    parser.add_argument("--slice", type=int, default=500)
    parser.add_argument("--only", default="")
    parser.add_argument("--receive", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    import uvloop

    uvloop.run(receive(args.receive, args.sockets) if args.receive else serve(args))
    _ = threading  # the executor's threads


if __name__ == "__main__":
    main()
