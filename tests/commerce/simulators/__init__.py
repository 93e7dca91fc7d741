"""Local stand-ins for the payment providers (Stripe here; WeChat Pay and Alipay beside it), each a small
ASGI app that implements the endpoints Knowcast's SDKs call and signs its notifications as the provider
documents. ``serve`` runs one on a free loopback port in a thread of its own (its own event loop), so both
sync SDK calls (made from worker threads) and a separate Knowcast server process can reach it over real HTTP.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.live_server import free_port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot own signals; the test process keeps them
        pass


@contextmanager
def serve(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve an ASGI app on a free loopback port until the block ends; yields its base URL (no slash)."""
    port = free_port()
    server = _Server(uvicorn.Config(app, host=host, port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), name=f"simulator-{port}", daemon=True)
    thread.start()
    for _ in range(500):  # bounded: the server binds within a few ms
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.01)
    if not server.started:
        raise RuntimeError(f"the simulator on port {port} did not start")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
