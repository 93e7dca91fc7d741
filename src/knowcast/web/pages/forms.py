"""Helpers for HTML forms: read a form into a schema, turn validation errors into per-field messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from knowcast.errors import ValidationFailed
from knowcast.validation import FORM

Schema = TypeVar("Schema", bound=BaseModel)


async def form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


async def form_file(request: Request, name: str) -> UploadFile | None:
    value = (await request.form()).get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


def parse(schema: type[Schema], values: Mapping[str, object]) -> Schema:
    """Validate, raising ValidationFailed with a message per field (shown beside each input)."""
    try:
        return schema.model_validate(values, context=FORM)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in err["loc"]) or "form": err["msg"] for err in exc.errors()}
        raise ValidationFailed("some fields are invalid", fields=fields) from exc
