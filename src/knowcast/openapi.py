"""The OpenAPI document at /api/v1/openapi.json, describing errors as Knowcast really sends them.

FastAPI documents validation errors as ``{"detail": [...]}``; errors.py answers ``{"error": {code, message,
fields}}`` for every status. This rewrites the document so that clients (and schemathesis) see the truth.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, dotted; branch on this"},
                "message": {"type": "string", "description": "for people; may change"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_RESPONSE = {"description": "an error with a stable code", "content": {"application/json": {"schema": ERROR_REF}}}


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=DESCRIPTION)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Error"] = ERROR_SCHEMA
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses["422"] = ERROR_RESPONSE
                responses["4XX"] = ERROR_RESPONSE
                responses.setdefault("default", ERROR_RESPONSE)
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]


DESCRIPTION = (
    "Knowcast's JSON API. Cookie sessions need the X-CSRF-Token header on state-changing calls; "
    "see docs/api.md for the conventions and error codes."
)
