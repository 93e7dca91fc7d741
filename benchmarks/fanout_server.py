"""`knowcast serve` under the fan-out benchmark, with probes that tell where the server's time goes.

Run by benchmarks/fanout.py instead of ``python -m knowcast serve``. Every ``PROBE_EVERY`` seconds it prints one
line to stderr (the server log): the event loop's lag (how late a 10 ms timer fires: what a chat line waiting
to be read also waits), garbage collections by generation and their longest pause, the hub's deliveries
(ticks written to every local viewer) with the time from a tick's sequencing to its last write and the CPU
per socket write, and the process's CPU over the interval.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import os
import sys
import time
from typing import Any

PROBE_EVERY = 5.0
LAG_STEP = 0.01


class Probe:
    def __init__(self) -> None:
        self.reset()
        self.gc_started = self.gc_started_cpu = 0.0

    def reset(self) -> None:
        self.lags: list[float] = []
        self.gc_count = [0, 0, 0]
        self.gc_max = [0.0, 0.0, 0.0]
        self.gc_total = self.gc_cpu = 0.0
        self.writes: list[float] = []
        self.slice_cpu = 0.0
        self.slice_writes = 0
        self.viewers = 0
        self.joins = 0
        self.failed_joins: dict[str, int] = {}  # why a socket ended before its welcome
        self.cpu = time.process_time()
        self.wall = time.monotonic()
        self.sched = _schedstat()
        self.softirq = _softirq_ticks()

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.gc_started, self.gc_started_cpu = time.perf_counter(), time.thread_time()
            return
        took = time.perf_counter() - self.gc_started
        self.gc_cpu += time.thread_time() - self.gc_started_cpu
        generation = info["generation"]
        self.gc_count[generation] += 1
        self.gc_max[generation] = max(self.gc_max[generation], took)
        self.gc_total += took

    def line(self) -> str:
        lags = sorted(self.lags) or [0.0]
        writes = sorted(self.writes) or [0.0]
        wall = time.monotonic() - self.wall
        cpu = 100 * (time.process_time() - self.cpu) / max(wall, 1e-9)
        ran, waited = (now - then for now, then in zip(_schedstat(), self.sched, strict=True))
        sched = f"on_cpu={100 * ran / wall:.0f}% waiting_for_cpu={100 * waited / wall:.0f}% "
        softirq = 100 * (_softirq_ticks() - self.softirq) / os.sysconf("SC_CLK_TCK") / wall / (os.cpu_count() or 1)
        return (
            f"probe pid={os.getpid()} viewers={self.viewers} cpu={cpu:.0f}% {sched}machine_softirq={softirq:.0f}% "
            f"lag_p50={1000 * lags[len(lags) // 2]:.0f}ms lag_p99={1000 * lags[int(len(lags) * 0.99)]:.0f}ms "
            f"lag_max={1000 * lags[-1]:.0f}ms gc={self.gc_count} gc_max_ms={[round(1000 * m) for m in self.gc_max]} "
            f"gc_total_ms={1000 * self.gc_total:.0f} gc_cpu_ms={1000 * self.gc_cpu:.0f} "
            f"ticks={len(writes)} write_p50={1000 * writes[len(writes) // 2]:.1f}ms "
            f"write_max={1000 * writes[-1]:.1f}ms "
            f"cpu_per_write={1e6 * self.slice_cpu / max(1, self.slice_writes):.1f}us "
            f"gc_counts={gc.get_count()} gen2={len(gc.get_objects(2))} "
            f"joins={self.joins} failed_joins={self.failed_joins}"
        )


def _schedstat() -> tuple[float, float]:
    """Seconds this process's main thread has run, and waited runnable for a CPU (/proc/self/schedstat)."""
    ran, waited, _ = open("/proc/self/schedstat").read().split()  # noqa: SIM115 - one read of a proc file
    return int(ran) / 1e9, int(waited) / 1e9


def _softirq_ticks() -> int:
    with open("/proc/stat") as stat:
        return int(stat.readline().split()[7])


PROBE = Probe()


async def watch(hub: Any) -> None:
    loop = asyncio.get_running_loop()
    last_report = loop.time()
    profile_to = os.environ.get("KNOWCAST_FANOUT_PROFILE")  # a cProfile of one probe interval while chat flows
    profiler: cProfile.Profile | None = None
    while True:
        before = loop.time()
        await asyncio.sleep(LAG_STEP)
        now = loop.time()
        PROBE.lags.append(max(0.0, now - before - LAG_STEP))
        if now - last_report >= PROBE_EVERY:
            PROBE.viewers = sum(len(room.conns) for room in hub.rooms.values())
            print(PROBE.line(), file=sys.stderr, flush=True)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(str(profile_to))
                profile_to, profiler = None, None
            elif profile_to and (
                len(PROBE.writes) > 10 or (os.environ.get("KNOWCAST_FANOUT_PROFILE_JOINS") and PROBE.joins > 500)
            ):
                profiler = cProfile.Profile()
                profiler.enable()
            PROBE.reset()
            last_report = now


def install() -> None:
    from knowcast.realtime import room as room_module
    from knowcast.realtime import routes
    from knowcast.realtime.heap import HeapKeeper
    from knowcast.realtime.hub import Hub

    gc.callbacks.append(PROBE.on_gc)
    start = Hub.start

    async def start_with_probe(self: Hub) -> None:
        await start(self)
        self._tasks.append(asyncio.create_task(watch(self), name="fanout-probe"))

    Hub.start = start_with_probe  # type: ignore[method-assign]
    broadcast, write_slice = room_module.LiveRoom.broadcast, room_module.LiveRoom._write_slice
    sequenced: dict[int, float] = {}  # seq → when the hub began writing it

    def timed_broadcast(self: room_module.LiveRoom) -> None:
        sequenced[self.seq] = time.perf_counter()
        broadcast(self)

    def timed_slice(self: room_module.LiveRoom) -> None:
        cpu, start = time.thread_time(), self._next
        write_slice(self)
        PROBE.slice_cpu += time.thread_time() - cpu
        PROBE.slice_writes += self._next - start
        if self._next >= len(self._pass):  # a pass is over: every frame sequenced before it has been written
            now = time.perf_counter()
            for seq in [seq for seq in sequenced if seq <= self._pass_seq]:
                PROBE.writes.append(now - sequenced.pop(seq))

    conversation_open = routes.Conversation.open

    async def counted_open(self: routes.Conversation, transport: Any) -> Any:
        try:
            conn = await conversation_open(self, transport)
        except BaseException as error:
            why = f"{type(error).__name__}{getattr(error, 'close_code', '')}"
            PROBE.failed_joins[why] = PROBE.failed_joins.get(why, 0) + 1
            raise
        PROBE.joins += 1
        return conn

    routes.Conversation.open = counted_open  # type: ignore[method-assign]
    full_pass = HeapKeeper._full_pass

    def logged_full_pass(self: HeapKeeper, sockets: int, *, thaw: bool) -> None:
        began, cpu = time.perf_counter(), time.thread_time()
        full_pass(self, sockets, thaw=thaw)
        took, cpu = 1000 * (time.perf_counter() - began), 1000 * (time.thread_time() - cpu)
        print(
            f"probe gc full pass sockets={sockets} thaw={thaw} {took:.0f}ms cpu={cpu:.0f}ms",
            file=sys.stderr,
            flush=True,
        )

    HeapKeeper._full_pass = logged_full_pass  # type: ignore[method-assign]
    room_module.LiveRoom.broadcast = timed_broadcast  # type: ignore[method-assign]
    room_module.LiveRoom._write_slice = timed_slice  # type: ignore[method-assign]


if __name__ == "__mp_main__":  # a worker of `serve --workers N`, started by multiprocessing's spawn
    install()

if __name__ == "__main__":
    install()
    from knowcast.cli import main

    main(["serve", *sys.argv[1:]])
