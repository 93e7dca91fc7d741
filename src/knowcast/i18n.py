"""Translations. zh-CN is the first language; every key exists in both catalogs (a test checks).

Messages are ICU MessageFormat (knowcast/messages.py here, npm ``intl-messageformat`` in the browser), so plurals and
selects are written once per language: ``"{count, plural, one {# vote} other {# votes}}"``.

The locale is, in order: the signed-in user's choice, the ``kc_locale`` cookie, ``Accept-Language``, the
shop's default.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from knowcast import messages

LOCALES = ("zh-CN", "en")
LOCALE_COOKIE = "kc_locale"
CATALOG_DIR = Path(__file__).parent / "web" / "locales"  # the catalogs ship with the pages that use most of them


@cache
def catalog(locale: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOG_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    return data


def translate(locale: str, key: str, **params: object) -> str:
    text = catalog(locale).get(key) or catalog("en").get(key) or key
    return messages.format_message(locale, text, params) if params else text


def match(tag: str) -> str | None:
    """Map a language tag to a supported locale: zh, zh-CN, zh-Hans → zh-CN; en-US → en."""
    tag = tag.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str) -> str | None:
    weighted: list[tuple[float, str]] = []
    for part in header.split(","):
        lang, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = match(lang)
        if locale and quality > 0:
            weighted.append((quality, locale))
    weighted.sort(key=lambda pair: -pair[0])  # stable: equal weights keep the header's order
    return weighted[0][1] if weighted else None


def negotiate(user_choice: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    for candidate in (user_choice, cookie):
        if candidate in LOCALES:
            return str(candidate)
    return from_accept_language(accept_language or "") or default
