"""How a domain plugs into the app: one install hook each (as Django's ``AppConfig.ready()``).

Each domain package has a ``domain.py`` module with ``install(ctx, app)``: it provides the domain's runtime on
the context (``ctx.provide``; reached again one way, ``ctx.runtime(Kind)``), subscribes it to the bus, adds its
background tasks to ``ctx.components`` and includes its routes. The composition root (``knowcast.app``) calls
them in one declared order, ``app.DOMAINS``: a domain comes after those whose runtime it uses while installing.

What is not any one domain's stays with the composition root: the settings-built collaborators a command needs
without an app (``app.build_context``), the event registry, and the HTTP pipeline — the middlewares and the fast
paths ahead of the app, whose order is the order requests meet them, not the order domains are installed in.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI

from knowcast.context import AppContext


class Domain(Protocol):
    """A domain's ``domain`` module, as the composition root sees it."""

    NAME: str

    def install(self, ctx: AppContext, app: FastAPI) -> None: ...
