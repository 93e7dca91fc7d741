"""Growth fixtures: a real SMTP server (aiosmtpd) on a free port, the app's settings pointing at it, and
helpers for rooms and waiting on the background workers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from knowcast.settings import Settings
from tests.browser.conftest import artifacts, browser, new_context  # noqa: F401  (browser fixtures, shared)
from tests.live_server import free_port

WHEN = (datetime.now(UTC) + timedelta(days=1)).isoformat()


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self.lock:
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """A real SMTP server on 127.0.0.1:``port`` that can be started and stopped (to play "down")."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_timeout_seconds": 3.0,
            "mail_poll_seconds": 0.2,
            "show_tick_seconds": 0.2,
        }
    )


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (the workers run in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the background work")
        await asyncio.sleep(0.05)


async def make_room(host: Any, **changes: Any) -> dict[str, Any]:
    body = {"title": "理财第一课", "description": "从零开始", "scheduled_at": WHEN, **changes}
    response = await host.client.post("/api/v1/rooms", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def go(host: Any, room_id: int, state: str) -> dict[str, Any]:
    response = await host.client.post(f"/api/v1/rooms/{room_id}/transitions", json={"to": state})
    assert response.status_code == 200, response.text
    return dict(response.json())


class Tarpit:
    """A TCP server that accepts connections and never says a word (an SMTP server that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()
