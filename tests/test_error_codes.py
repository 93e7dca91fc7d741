"""Error codes are enum members (``knowcast.errors.ErrorCode`` and each domain's ``errors.py``), never bare
strings, each value once; docs/api.md lists every one of them (its "Every error code" section is generated from
the enums: the failure message prints the section as it should read) and its status table names only real codes."""

from __future__ import annotations

import ast
import importlib
import json
import re
from enum import StrEnum
from pathlib import Path

import knowcast
from knowcast.errors import ErrorCode

SRC = Path(knowcast.__file__).parent
API_DOC = SRC.parents[1] / "docs" / "api.md"
BEGIN = "<!-- every error code: generated from the enums, checked by tests/test_error_codes.py -->"
END = "<!-- end of every error code -->"


def code_enums() -> list[type[StrEnum]]:
    enums: list[type[StrEnum]] = [ErrorCode]
    for module_file in sorted(SRC.glob("*/errors.py")):
        module = importlib.import_module(f"knowcast.{module_file.parent.name}.errors")
        enums += [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, StrEnum) and v.__module__ == module.__name__
        ]
    return enums


def every_code() -> dict[str, str]:
    """Each code's value → the enum that holds it."""
    return {member.value: enum.__name__ for enum in code_enums() for member in enum}


def section() -> str:
    lines = [BEGIN, "", "| enum | codes |", "|---|---|"]
    for enum in code_enums():
        module = enum.__module__.removeprefix("knowcast.")
        codes = ", ".join(f"`{member.value}`" for member in sorted(enum, key=lambda m: m.value))
        lines.append(f"| `{module}.{enum.__name__}` | {codes} |")
    return "\n".join([*lines, "", END])


def test_every_domain_with_errors_has_its_enum() -> None:
    names = [enum.__name__ for enum in code_enums()]
    assert len(names) >= 11 and "CommerceCode" in names and "MediaCode" in names


def test_each_code_is_one_member_named_for_its_value() -> None:
    values = [member.value for enum in code_enums() for member in enum]
    assert len(values) == len(set(values)), sorted(v for v in values if values.count(v) > 1)
    for enum in code_enums():
        for member in enum:
            assert member.name == member.value.upper().replace(".", "_"), member
            assert re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)*", member.value), member


def _bare_codes(path: Path) -> list[str]:
    """Places in one module where an error code is written as a string instead of an enum member."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args][-len(node.defaults) :] if node.defaults else []
            pairs = [*zip(named, node.defaults, strict=True), *zip(node.kwonlyargs, node.kw_defaults, strict=True)]
            found += [f"{path.relative_to(SRC)}:{a.lineno}" for a, d in pairs if a.arg == "code" and _is_text(d)]
            continue
        if isinstance(node, ast.keyword) and node.arg == "code":
            value: ast.expr | None = node.value
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id in ("code", "CODE") for t in node.targets)
        ) or (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "code"):
            value = node.value
        else:
            continue
        if isinstance(value, ast.IfExp):
            value = value.body if isinstance(value.body, ast.Constant) else value.orelse
        if value is not None and _is_text(value):
            found.append(f"{path.relative_to(SRC)}:{value.lineno}")
    return found


def _is_text(node: ast.expr | None) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def test_no_error_code_is_a_bare_string() -> None:
    bare = [place for path in sorted(SRC.rglob("*.py")) for place in _bare_codes(path)]
    assert bare == []


def test_the_api_doc_lists_every_code() -> None:
    text = API_DOC.read_text()
    assert BEGIN in text and END in text, f"docs/api.md needs its generated section:\n{section()}"
    written = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert written == section(), f"regenerate docs/api.md's section:\n{section()}"


def test_the_api_docs_status_table_names_real_codes() -> None:
    text = API_DOC.read_text()
    table = text[text.index("| status | code | when |") :].split("\n\n", 1)[0]
    named = set(re.findall(r"`([a-z_]+(?:\.[a-z_0-9]+)*)`", table)) - {"fields"}
    assert named and named <= set(every_code()), sorted(named - set(every_code()))


def test_every_translated_error_is_a_real_code() -> None:
    """The catalogs' ``error.<code>`` messages (what the live socket and the pages show) name codes that exist."""
    pages = {"home", "title", "title_403", "title_404", "title_413", "title_429"}  # the error page's own words
    for catalog in sorted((SRC / "web" / "locales").glob("*.json")):
        keys = {key.removeprefix("error.") for key in json.loads(catalog.read_text()) if key.startswith("error.")}
        assert keys - pages <= set(every_code()), (catalog.name, sorted(keys - pages - set(every_code())))
