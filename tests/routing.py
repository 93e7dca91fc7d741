"""Lists the app's API routes with their full paths, on FastAPI versions that include routers eagerly or lazily."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute


def api_routes(app: Any) -> list[tuple[str, APIRoute]]:
    found: list[tuple[str, APIRoute]] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append((route.path, route))
        elif hasattr(route, "effective_route_contexts"):  # FastAPI ≥ 0.160 keeps included routers lazy
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    found.append((context.path, context.original_route))
    return found
