"""ICU MessageFormat on the server, the twin of the browser's ``intl-messageformat``: one catalog string such as
``"{count, plural, one {# vote} other {# votes}}"`` reads right in every language (no "1 votes"), wherever it
is formatted. Parsing is pyicumessageformat's; plural categories, numbers and dates are Babel's (CLDR data)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent
from pyicumessageformat import Parser

_parser = Parser()


@cache
def parse(message: str) -> list[Any]:
    parsed: list[Any] = _parser.parse(message)
    return parsed


@cache
def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale.replace("-", "_"))


def format_message(locale: str, message: str, params: Mapping[str, object], zone: str = "UTC") -> str:
    """``message`` with ``params`` filled in, as ICU MessageFormat defines it. A missing parameter shows as
    ``{name}`` rather than failing: a half-filled line beats an error in the middle of a page."""
    return _render(parse(message), babel_locale(locale), params, ZoneInfo(zone), None)


def _render(nodes: list[Any], locale: Locale, params: Mapping[str, object], zone: ZoneInfo, hash_value: object) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node.get("hash"):
            out.append(_number(hash_value, locale))
        else:
            out.append(_argument(node, locale, params, zone))
    return "".join(out)


def _argument(node: dict[str, Any], locale: Locale, params: Mapping[str, object], zone: ZoneInfo) -> str:
    name, kind = node["name"], node.get("type")
    if name not in params:
        return f"{{{name}}}"
    value = params[name]
    if kind in ("plural", "selectordinal"):
        number = _as_number(value) - int(node.get("offset") or 0)
        options = node["options"]
        exact = f"={_as_number(value):g}"
        category = locale.ordinal_form(number) if kind == "selectordinal" else locale.plural_form(number)
        branch = options.get(exact) or options.get(category) or options["other"]
        return _render(branch, locale, params, zone, number)
    if kind == "select":
        branch = node["options"].get(str(value)) or node["options"]["other"]
        return _render(branch, locale, params, zone, None)
    if kind == "number":
        return (
            format_percent(_as_number(value), locale=locale)
            if node.get("format") == "percent"
            else _number(value, locale)
        )
    if kind in ("date", "time") and isinstance(value, datetime):
        return _when(kind, value.astimezone(zone), node.get("format") or "medium", locale)
    return str(value)


def _when(kind: str, value: datetime, style: str, locale: Locale) -> str:
    style = style if style in ("short", "medium", "long", "full") else "medium"
    if kind == "time":
        return format_time(value, style, tzinfo=value.tzinfo, locale=locale)
    return format_date(value, style, locale=locale) if kind == "date" else format_datetime(value, style, locale=locale)


def _as_number(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _number(value: object, locale: Locale) -> str:
    return format_decimal(_as_number(value), locale=locale)
