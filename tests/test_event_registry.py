"""Every bus event is one model in its domain, listed in knowcast/event_registry.py: the publishers' names, the
docs' event tables and the bus's check all answer to that one list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

import knowcast
from knowcast.bus import Event, EventBus
from knowcast.event_registry import EVENTS

PACKAGE = Path(knowcast.__file__).parent
DOCS = PACKAGE.parents[1] / "docs"
# calls whose first string argument (after a ctx/room) is an event name
NAMING_CALLS = {"Event": 0, "order_event": 0, "_event": 0, "_publish": 1}


def published_names() -> set[str]:
    """Event names written as literals at the publishers (dynamic ones, room.<state> and the like, are checked
    by the bus at run time)."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            index = NAMING_CALLS.get(func)
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "." in arg.value:
                names.add(arg.value)
    return names


def documented_table_names(text: str) -> set[str]:
    """Names in the first column of the docs' event tables (a table whose header starts ``| name |`` or
    ``| event |``)."""
    names: set[str] = set()
    in_table = False
    for line in text.splitlines():
        if re.match(r"^\| (name|event) \|", line):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
        elif in_table:
            first = line.split("|")[1]
            names.update(re.findall(r"`([a-z_]+\.[a-z_]+)`", first))
    return names


def test_every_name_a_publisher_writes_is_registered() -> None:
    assert published_names() - set(EVENTS) - {"webhook.ping"} == set()
    assert len(published_names()) > 40


def test_the_docs_event_tables_name_only_registered_events() -> None:
    for name in ("protocol.md", "growth.md", "media.md", "integrations.md"):
        assert documented_table_names((DOCS / name).read_text(encoding="utf-8")) - set(EVENTS) == set(), name


def test_every_registered_event_is_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    assert [name for name in EVENTS if f"`{name}`" not in text] == []


def test_a_model_refuses_a_key_it_does_not_declare() -> None:
    with pytest.raises(ValidationError):
        EVENTS["coupon.left"].model_validate({"room_id": 1, "drop_id": 2, "left": 3, "broadcast": True})


async def test_a_strict_bus_refuses_an_event_its_model_refuses_and_a_lenient_one_counts_it() -> None:
    heard: list[Event] = []

    async def hear(event: Event) -> None:
        heard.append(event)

    strict, lenient = EventBus(), EventBus()
    strict.declare(EVENTS, strict=True)
    lenient.declare(EVENTS, strict=False)
    for bus in (strict, lenient):
        bus.subscribe("*", hear)
    bad = Event("coupon.left", {"room_id": 1, "drop_id": 2, "left": "many"})
    with pytest.raises(ValidationError):
        await strict.publish(bad)
    assert heard == []
    await lenient.publish(bad)  # production: the action that published it is not failed for it
    assert heard == [bad] and lenient.refused["coupon.left"] == 1
    good = Event("coupon.left", {"room_id": 1, "drop_id": 2, "left": 3}, to_room=True)
    await strict.publish(good)
    assert heard[-1] is good
