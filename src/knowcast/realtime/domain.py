"""The real-time plane plugged into the app: the hub (built with the context) hears the bus, runs as a component
and is counted in the metrics. Its WebSocket endpoint is a middleware of the composition root (LiveSockets)."""

from __future__ import annotations

from fastapi import FastAPI

from knowcast.context import AppContext
from knowcast.realtime import bridge
from knowcast.realtime.hub import FAILURE_STAGES, WELCOME_KINDS, WELCOME_PARTS, Hub

NAME = "realtime"


def install(ctx: AppContext, _app: FastAPI) -> None:
    hub = ctx.runtime(Hub)
    bridge.connect(ctx.bus, hub)
    ctx.components.append(hub)
    ctx.metrics.count_from(
        "knowcast_realtime_failures",
        "live room steps that failed without costing the rest of the room anything, by stage",
        "stage",
        hub.failures,
        FAILURE_STAGES,
    )
    ctx.metrics.count_from(
        "knowcast_realtime_welcomes", "live sockets welcomed, by kind", "kind", hub.welcomes, WELCOME_KINDS
    )
    ctx.metrics.registry.register(hub.join_seconds)
    ctx.metrics.count_from(
        "knowcast_realtime_welcome_parts",
        "fresh welcomes that carried a part (commerce: the room's commerce snapshot), by part",
        "part",
        hub.welcome_parts_sent,
        WELCOME_PARTS,
    )
