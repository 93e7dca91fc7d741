"""The error codes integrations raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class IntegrationsCode(StrEnum):
    TOKEN_EXPIRED = "token.expired"
    TOKEN_INVALID = "token.invalid"
    TOKEN_NOT_ACCEPTED = "token.not_accepted"
    TOKEN_NOT_FOUND = "token.not_found"
    TOKEN_REVOKED = "token.revoked"
    TOKEN_SCOPE_MISSING = "token.scope_missing"
    TOKEN_SCOPE_NOT_ALLOWED = "token.scope_not_allowed"
    TOKEN_TOO_MANY = "token.too_many"
    WEBHOOK_DELIVERY_NOT_FOUND = "webhook.delivery_not_found"
    WEBHOOK_NOT_FOUND = "webhook.not_found"
    WEBHOOK_TOO_MANY = "webhook.too_many"
    WEBHOOK_URL_CREDENTIALS = "webhook.url_credentials"
    WEBHOOK_URL_INVALID = "webhook.url_invalid"
    WEBHOOK_URL_PRIVATE = "webhook.url_private"
    WEBHOOK_URL_SCHEME = "webhook.url_scheme"
