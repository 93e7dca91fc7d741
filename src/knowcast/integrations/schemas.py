"""What crosses the edge for API tokens and webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowcast.integrations.events import WebhookEvent
from knowcast.integrations.models import DeliveryStatus
from knowcast.integrations.scopes import Scope
from knowcast.validation import Input

MAX_URL = 2000
MAX_TOKEN_DAYS = 3650
T = TypeVar("T")


def _clean_name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


def _unique(values: list[T]) -> list[T]:
    return list(dict.fromkeys(values))


class TokenCreate(Input):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS)

    _name = field_validator("name")(_clean_name)
    _scopes = field_validator("scopes")(_unique)


TokenState = Literal["active", "expired", "revoked"]


class TokenPublic(BaseModel):
    """A token as listed: never the token itself, only the first characters."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    hint: str
    scopes: list[str]
    state: TokenState
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="shown once; only its SHA-256 is kept")


class EndpointCreate(Input):
    url: str = Field(min_length=1, max_length=MAX_URL)
    description: str = Field(default="", max_length=200)
    events: list[WebhookEvent] = Field(min_length=1, max_length=len(WebhookEvent))

    _events = field_validator("events")(_unique)


class EndpointUpdate(Input):
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL)
    description: str | None = Field(default=None, max_length=200)
    events: list[WebhookEvent] | None = Field(default=None, min_length=1, max_length=len(WebhookEvent))
    is_active: bool | None = None

    _events = field_validator("events")(lambda v: None if v is None else _unique(v))


class EndpointPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str
    events: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointPublic):
    secret: str = Field(description="the signing secret, shown once (roll it to get a new one)")


class EndpointSecret(BaseModel):
    id: int
    secret: str


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: int
    event_id: str
    event_name: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    response_snippet: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_before: int | None = Field(description="pass as ?before= for the next (older) page")
