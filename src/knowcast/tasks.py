"""Background tasks of the components (sweepers, workers, listeners): stopping one the same way everywhere."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait until it has stopped; its cancellation is not an error."""
    if task is None:
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
