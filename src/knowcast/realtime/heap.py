"""Short garbage-collector pauses for a process that holds thousands of long-lived sockets.

Each viewer's socket is a few dozen long-lived objects (its protocol, its task, its Connection). Python's
full collection walks every such object, and it runs again each time the old generation has grown by a
quarter: during a join storm of 5,000 viewers that was nine full passes of up to 0.4 s each, and later, while
the room was live, one of 0.5 s that froze every delivery (docs/benchmarks.md, "Fan-out"). The keeper moves
the objects of viewers who have joined into the collector's permanent generation (``gc.freeze()``), after a
full collection of what is new, so later passes only walk what came after them.

Objects in the permanent generation are still freed by reference counting; only garbage in reference cycles
among them waits. So when the sockets fall to half of what they were at the last freeze (a crowd leaving),
the keeper unfreezes and collects everything once, then freezes what is left.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


class HeapKeeper:
    def __init__(self, step: int = 1000) -> None:
        self.step = step  # new sockets since the last freeze that make the next one worth it; 0: never freeze
        self.frozen_at = 0  # sockets when the keeper last froze

    def observe(self, sockets: int) -> None:
        """Called about once a second with the number of sockets this process holds."""
        if not self.step:
            return
        if sockets >= self.frozen_at + max(self.step, self.frozen_at // 10):
            self._freeze(sockets, thaw=False)
        elif self.frozen_at and sockets <= self.frozen_at // 2:
            self._freeze(sockets, thaw=True)

    def _freeze(self, sockets: int, *, thaw: bool) -> None:
        began = time.perf_counter()
        if thaw:
            gc.unfreeze()
        gc.collect()
        gc.freeze()
        log.info(
            "gc %s",
            "thawed and froze again" if thaw else "froze",
            extra={
                "sockets": sockets,
                "frozen": gc.get_freeze_count(),
                "ms": round(1000 * (time.perf_counter() - began)),
            },
        )
        self.frozen_at = sockets
