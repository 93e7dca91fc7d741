"""Translations: both catalogs carry every key, and the language is negotiated sensibly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowcast import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"


def test_both_catalogs_have_the_same_keys() -> None:
    assert set(i18n.catalog("zh-CN")) == set(i18n.catalog("en"))


def test_every_literal_key_used_in_templates_exists() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"(?<![\w.])t\('([a-z0-9_.\-]+)'\)", template.read_text(encoding="utf-8")))
    missing = sorted(key for key in used if key not in i18n.catalog("zh-CN"))
    assert missing == []


def test_chinese_catalog_is_written_in_chinese() -> None:
    zh = i18n.catalog("zh-CN")
    assert zh["nav.signin"] == "登录"
    untranslated = [k for k, v in zh.items() if v == i18n.catalog("en")[k] and k != "nav.other_language"]
    assert untranslated == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR,en;q=0.5", "en"),
        ("fr-FR", None),
        ("en;q=0.2,zh;q=0.8", "zh-CN"),
        ("en;q=oops", None),
        ("", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert i18n.from_accept_language(header) == expected


def test_explicit_choice_beats_the_header() -> None:
    assert i18n.negotiate("en", None, "zh-CN", "zh-CN") == "en"
    assert i18n.negotiate(None, "en", "zh-CN", "zh-CN") == "en"
    assert i18n.negotiate(None, "xx", None, "zh-CN") == "zh-CN"
