"""Structured logs and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("knowcast.http")
_RESERVED = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# libraries whose DEBUG and INFO lines carry SQL and its parameters (nicknames, questions, emails): WARNING at least
# libraries whose INFO/DEBUG lines carry what they were handed: SQL parameters, and the outgoing HTTP client's
# full URLs with their queries (payment providers' order references; one line per request, a flood in the demo)
PARAMETER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "httpx", "httpcore")


def configure_logging(level: str, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_parameter_loggers(root.level)


def quiet_parameter_loggers(level: int = logging.WARNING) -> None:
    """LOG_LEVEL=DEBUG is for our code, not a copy of viewers' data in the logs. create_app calls it too, so an
    app served without `knowcast serve`'s logging setup (a worker, an embedding, a test) holds the same line."""
    for name in PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, level))


class Metrics:
    """The app's Prometheus registry (one per app, so tests and several apps never collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "knowcast_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "knowcast_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )

    def count_from(
        self, name: str, documentation: str, label: str, counts: Mapping[str, int], keys: Iterable[str]
    ) -> None:
        """Expose a plain counter kept by a hot path (a dict of ints, no locks) as a Prometheus counter."""
        self.registry.register(_MappingCounter(name, documentation, label, counts, tuple(keys)))


class _MappingCounter(Collector):
    def __init__(self, name: str, documentation: str, label: str, counts: Mapping[str, int], keys: tuple[str, ...]):
        self.name, self.documentation, self.label, self.counts, self.keys = name, documentation, label, counts, keys

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for key in sorted({*self.keys, *self.counts}):
            family.add_metric([key], self.counts.get(key, 0))
        yield family


class AccessLogMiddleware:
    """Counts and times every HTTP request by its route template and logs one line each."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                    "request_id": scope.get("state", {}).get("request_id"),
                },
            )
