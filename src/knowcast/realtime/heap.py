"""Short garbage-collector pauses for a process that holds thousands of long-lived sockets.

Python's full collection walks every tracked object, and it runs each time the old generation has grown by a
quarter. A server with ten thousand viewers holds a million or more such objects, and its old generation
keeps growing even when nothing changes: each viewer's heartbeat and keepalive ping leave a coroutine, a
future and a timer that live for 15-20 s, long enough to be promoted. Measured: full passes of 0.3-1.1 s
during a join storm, and of 0.15-0.7 s every few tens of seconds while the room was live, each one freezing
every delivery (docs/benchmarks.md, "Fan-out").

So while this process holds at least ``min_sockets`` sockets, the keeper, once a second, collects the young
generations (a few milliseconds) and moves what survived into the collector's permanent generation
(``gc.freeze()``). The old generation then stays nearly empty and the collector never walks the whole heap.
Frozen objects are still freed by reference counting; only garbage in reference cycles among them waits, and
a departed viewer leaves none (measured with uvloop: 0 cyclic objects per viewer; 10 in all for 2,000 viewers
after 30 s of chat and their departure). When the sockets fall below half of ``min_sockets`` (the crowd has
gone), the keeper thaws and collects everything once, when a pass walks few viewers' objects (0.4-0.9 s
measured right after crowds of 5,000-20,000 left; a pass while thousands still watch would cost seconds).

The process's own objects from startup (modules, classes, routes, templates, the ORM's mappings: most of the
heap) live as long as the process. ``settle`` moves them into the permanent generation once the app has
started, and every thawing pass puts what survived it back there, so the full pass when the first thousand
viewers arrive walks only what came since, not the whole program (measured: 0.9 s of a join storm's CPU
before; docs/benchmarks.md, "Join storm").
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


class HeapKeeper:
    def __init__(self, min_sockets: int = 1000) -> None:
        self.min_sockets = min_sockets  # 0: never freeze (the collector's defaults)
        self.frozen = False

    def settle(self) -> None:
        """Called once the app has started: what exists now lives as long as the process."""
        if self.min_sockets:
            gc.collect()
            gc.freeze()

    def observe(self, sockets: int) -> None:
        """Called about once a second with the number of sockets this process holds."""
        if not self.min_sockets:
            return
        if self.frozen and sockets < self.min_sockets // 2:
            self._full_pass(sockets, thaw=True)
        elif self.frozen:
            gc.collect(1)  # the young generations only; what survives joins the frozen heap
            gc.freeze()
        elif sockets >= self.min_sockets:
            self._full_pass(sockets, thaw=False)

    def _full_pass(self, sockets: int, *, thaw: bool) -> None:
        began = time.perf_counter()
        if thaw:
            gc.unfreeze()
        gc.collect()
        gc.freeze()  # a crowd's survivors; after a thaw, the process's long-lived state (see ``settle``)
        self.frozen = not thaw
        took = round(1000 * (time.perf_counter() - began))
        log.info("gc full pass", extra={"sockets": sockets, "thawed": thaw, "ms": took})
