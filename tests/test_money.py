"""knowcast.money: the one money formatter. tests/money_cases.json is shared with the browser's twin
(tests/js/format.test.js runs the same table against static/js/_format.js), so the two cannot drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowcast.money import decimal, money

CASES = json.loads((Path(__file__).parent / "money_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("amount", "currency", "shown"), CASES)
def test_money_reads_as_the_browser_writes_it(amount: float, currency: str, shown: str) -> None:
    assert money(amount, currency) == shown


def test_money_defaults_to_cny() -> None:
    assert money(1990) == "¥19.90"


@pytest.mark.parametrize(
    ("amount", "grouped", "shown"),
    [
        (1990, False, "19.90"),
        (5, False, "0.05"),
        (0, False, "0.00"),
        (123456, False, "1234.56"),
        (123456, True, "1,234.56"),
        (-150, False, "-1.50"),
    ],
)
def test_decimal_is_plain_two_decimal_text(amount: int, grouped: bool, shown: str) -> None:
    assert decimal(amount, grouped=grouped) == shown
