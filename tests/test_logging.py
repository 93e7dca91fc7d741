"""LOG_LEVEL=DEBUG shows our own debug lines but not the database libraries' (aiosqlite, asyncpg,
SQLAlchemy), whose lines carry SQL parameters: a viewer's nickname, question or email would be copied into
the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from knowcast.db.engine import Database
from knowcast.observability import PARAMETER_LOGGERS, configure_logging


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")


@pytest.fixture
def debug_logs() -> Iterator[Collect]:
    root = logging.getLogger()
    saved = root.level, root.handlers[:], {n: logging.getLogger(n).level for n in PARAMETER_LOGGERS}
    configure_logging("DEBUG", as_json=True)
    collect = Collect()
    root.addHandler(collect)
    yield collect
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


async def test_debug_logs_leave_sql_parameters_out(debug_logs: Collect, tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
    async with db.session() as session:
        await session.execute(text("SELECT :nickname"), {"nickname": "小明-secret-nickname"})
    await db.dispose()
    logging.getLogger("knowcast.test").debug("our own debug line")
    assert "knowcast.test our own debug line" in debug_logs.lines
    assert not [line for line in debug_logs.lines if "secret-nickname" in line]


async def test_debug_logs_leave_outgoing_request_urls_out(debug_logs: Collect) -> None:
    """The HTTP client (payment providers, webhooks) logs each request's full URL at INFO: kept at WARNING."""
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(200))  # no network: the client's own logging
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://api.example.com/v3/pay/transactions/out-trade-no/kc42-secret-reference")
    assert not [line for line in debug_logs.lines if "secret-reference" in line]
