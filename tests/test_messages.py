"""ICU messages on the server (knowcast/messages.py), the catalogs written in them, and system chat lines that carry
their message key and parameters so that each viewer's page writes them in its own language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from knowcast import i18n
from knowcast.messages import format_message, parse
from knowcast.realtime.room import system_line


@pytest.mark.parametrize(
    ("locale", "count", "expected"),
    [
        ("en", 0, "0 votes"),
        ("en", 1, "1 vote"),
        ("en", 2, "2 votes"),
        ("en", 1200, "1,200 votes"),
        ("zh-CN", 1, "1 票"),
    ],
)
def test_plurals_follow_the_language(locale: str, count: int, expected: str) -> None:
    assert i18n.translate(locale, "live.vote_count", count=count) == expected


def test_exact_matches_select_offsets_and_dates() -> None:
    message = "{n, plural, =0 {nobody} one {# person} other {# people}} {g, select, host {hosts} other {watch}}"
    assert format_message("en", message, {"n": 0, "g": "host"}) == "nobody hosts"
    assert format_message("en", message, {"n": 3, "g": "x"}) == "3 people watch"
    assert format_message("en", "{n, selectordinal, one {#st} two {#nd} few {#rd} other {#th}}", {"n": 22}) == "22nd"
    when = datetime(2026, 12, 6, 4, 12, tzinfo=UTC)
    assert format_message("zh-CN", "{at, time, short}", {"at": when}, zone="Asia/Shanghai") == "12:12"
    assert "PM" in format_message("en", "{at, time, short}", {"at": when}, zone="Asia/Shanghai")


def test_a_missing_parameter_shows_its_name_instead_of_failing() -> None:
    assert format_message("en", "{name} bought {title}", {"name": "Li"}) == "Li bought {title}"


def test_every_catalog_message_is_valid_icu_with_the_same_parameters_in_both_languages() -> None:
    def names(nodes: list[object]) -> set[str]:
        found: set[str] = set()
        for node in nodes:
            if isinstance(node, dict):
                if not node.get("hash"):
                    found.add(node["name"])
                for branch in (node.get("options") or {}).values():
                    found |= names(branch)
        return found

    mismatched = []
    for key, english in i18n.catalog("en").items():
        if key == "growth.show.params":  # literal JSON braces; shown as written, never formatted
            continue
        if names(parse(english)) != names(parse(i18n.catalog("zh-CN")[key])):
            mismatched.append(key)
    assert mismatched == []


def test_system_lines_carry_their_message_and_parameters() -> None:
    data = {
        "system": True,
        "text": "小李 买了《理财课》",
        "message": "shop.system.bought",
        "params": {"name": "小李", "title": "理财课", "flag": True, "nested": {"x": 1}},
        "order_id": 9,
    }
    line = system_line(4, 0, "order.announced", data)
    assert line["message"] == "shop.system.bought" and line["params"] == {"name": "小李", "title": "理财课"}
    assert line["text"] == "小李 买了《理财课》" and line["order_id"] == 9
    assert "message" not in system_line(4, 1, "show.qa_called", {"system": True, "text": "提问时间"})


def test_the_same_event_reads_right_in_each_language() -> None:
    params = {"title": "写作课", "price": "¥9.90", "stock": 1}
    assert i18n.translate("zh-CN", "shop.system.flash", **params) == "限时秒杀开始：写作课 只要 ¥9.90，共 1 件！"
    assert i18n.translate("en", "shop.system.flash", **params) == "Flash sale: 写作课 for ¥9.90, only 1 left!"
    assert i18n.translate("en", "shop.system.drop", count=1).startswith("Coupon drop: 1 coupon to claim")
