"""Integrations' own bus events (tokens, endpoints, the ping); the events a webhook can carry are in events.py.

Each bus event integrations publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from knowcast.bus import Payload


class TokenCreated(Payload):
    token_id: int
    user_id: int
    scopes: list[str]


class TokenRevoked(Payload):
    token_id: int
    user_id: int
    by: int


class EndpointChanged(Payload):
    """``webhook_endpoint.created``, ``.updated``, ``.deleted`` and ``.secret_rolled``."""

    endpoint_id: int
    by: int


class Ping(Payload):
    endpoint_id: int


EVENTS: dict[str, type[Payload]] = {
    "api_token.created": TokenCreated,
    "api_token.revoked": TokenRevoked,
    **{f"webhook_endpoint.{n}": EndpointChanged for n in ("created", "updated", "deleted", "secret_rolled")},
    "webhook.ping": Ping,
}
