"""knowcast/batches.py: the keys asked for together are read together, each caller gets its own value, a failed
read fails its batch only, and a caller who gives up does not cancel the others."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from knowcast.batches import Batches


class Reads:
    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on

    async def __call__(self, keys: list[int]) -> Mapping[int, str]:
        self.batches.append(keys)
        await asyncio.sleep(0.01)  # a query's time: keys asked for meanwhile wait for the next read
        if self.fail_on in keys:
            raise RuntimeError("the database is away")
        return {key: f"v{key}" for key in keys if key != 0}


async def test_a_crowd_asking_within_the_window_is_read_at_once_each_getting_its_own() -> None:
    reads = Reads()
    batches = Batches(reads, size=100, window=0.02, missing="none")
    first = asyncio.ensure_future(batches.get(1))
    await asyncio.sleep(0.005)  # later, but within the window
    values = await asyncio.gather(first, *(batches.get(key) for key in (2, 3, 0, 2)))
    assert values == ["v1", "v2", "v3", "none", "v2"]
    assert reads.batches == [[1, 2, 3, 0]] and batches.reads == 1


async def test_batches_hold_at_most_size_keys_and_late_askers_wait_for_the_next_read() -> None:
    reads = Reads()
    batches = Batches(reads, size=2)
    crowd = [asyncio.ensure_future(batches.get(key)) for key in (1, 2, 3)]
    await asyncio.sleep(0.001)  # the first read is running
    late = asyncio.ensure_future(batches.get(4))
    assert await asyncio.gather(*crowd, late) == ["v1", "v2", "v3", "v4"]
    assert reads.batches == [[1, 2], [3, 4]]


async def test_a_failed_read_fails_its_batch_and_the_next_batch_is_read() -> None:
    reads = Reads(fail_on=2)
    batches = Batches(reads, size=2)
    crowd = [asyncio.ensure_future(batches.get(key)) for key in (1, 2, 3)]
    results = await asyncio.gather(*crowd, return_exceptions=True)
    assert [type(r) for r in results[:2]] == [RuntimeError, RuntimeError] and results[2] == "v3"
    assert await batches.get(1) == "v1"  # the helper goes on after a failure


async def test_a_caller_who_gives_up_does_not_cancel_the_others() -> None:
    batches = Batches(Reads(), size=10, window=0.01)
    leaving = asyncio.ensure_future(batches.get(1))
    staying = asyncio.ensure_future(batches.get(1))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == "v1"
    with pytest.raises(asyncio.CancelledError):
        await leaving
