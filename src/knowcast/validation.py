"""Strict input: the base of every schema a request body is validated into.

JSON has real numbers and booleans, so a JSON body must use them: ``true`` is not a price of 1, ``"2"`` is not
a quantity, ``"yes"`` is not a consent (pydantic's lax mode would take all three). Text may hold no control
characters (NUL and the rest of C0 and C1, DEL; tabs and line breaks are whitespace, which single-line fields
fold into spaces) and no lone surrogates; dates lie between ``EARLIEST`` and ``LATEST``. HTML forms send
only strings, so ``knowcast.web.pages.forms.parse`` validates with ``FORM`` as context and the numbers and
booleans in them are read from text as before; the text and date rules hold there too.

A URL that a browser or a player will fetch is a ``WebUrl``: http or https with a host, nothing else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ValidationInfo, field_validator

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
FORM = {"form": True}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Input(BaseModel):
    """A request body (see the module's docstring)."""

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or (info.context or {}).get("form"):
            return value
        kinds = _scalar_kinds(cls, info.field_name)
        if isinstance(value, bool):
            if "bool" not in kinds and kinds & {"int", "float"}:
                raise ValueError("must be a number, not true or false")
        elif isinstance(value, int | float):
            if "bool" in kinds and not kinds & {"int", "float"}:
                raise ValueError("must be true or false, not a number")
            if isinstance(value, float) and "int" in kinds and "float" not in kinds:
                raise ValueError("must be a whole number")
        elif isinstance(value, str) and kinds and kinds <= {"int", "float", "bool"}:
            raise ValueError("must be a JSON number or boolean, not text")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _clean_values(cls, value: Any, info: ValidationInfo) -> Any:
        _check(value)
        return value


def _check(value: Any) -> None:
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, datetime):
        check_date(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key)
            _check(item)


def check_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("text may not hold control characters")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode") from None
    return value


def check_date(value: datetime) -> datetime:
    if value.tzinfo is not None and not EARLIEST <= value <= LATEST:
        raise ValueError(f"dates lie between {EARLIEST.year} and {LATEST.year - 1}")
    return value


def web_url(value: str) -> str:
    """An absolute http(s) URL with a host: never ``//evil.example/x``, ``javascript:`` or a bare path."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("give an http:// or https:// address with a host")
    return value


WebUrl = Annotated[str, AfterValidator(web_url)]


@cache
def _scalar_kinds(model: type[BaseModel], name: str) -> frozenset[str]:
    """The JSON scalar kinds a field takes: {"int"}, {"bool"}, {"int", "str"}... (empty: anything else)."""
    field = model.model_fields.get(name)
    return _kinds_of(field.annotation) if field is not None else frozenset()


def _kinds_of(annotation: Any) -> frozenset[str]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds_of(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return frozenset().union(*(_kinds_of(arg) for arg in get_args(annotation) if arg is not NoneType))
    if origin is Literal:
        return frozenset({"bool" if isinstance(a, bool) else type(a).__name__ for a in get_args(annotation)})
    if annotation is bool:
        return frozenset({"bool"})
    if annotation is int:
        return frozenset({"int"})
    if annotation is float:
        return frozenset({"float"})
    if isinstance(annotation, type) and issubclass(annotation, str):
        return frozenset({"str"})
    return frozenset({"other"})
