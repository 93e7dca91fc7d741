"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL, with per-column merge rules.

Rows are merged in Python first (one row per key), because PostgreSQL refuses to update the same row twice in
one statement. Additive columns make the facts correct when several processes write for the same room.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics.rows import insert_many

CHUNK = 500
_CLAUSES: dict[tuple[Table, Merge, str, tuple[str, ...]], str] = {}  # by (table, rules, dialect, columns)


def table_of(model: Any) -> Table:
    """A mapped class's Table (typed as such)."""
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class Merge:
    keys: Sequence[str]
    add: Sequence[str] = ()
    greatest: Sequence[str] = ()
    least: Sequence[str] = ()
    replace: Sequence[str] = ()  # the incoming value wins unless it is None (pass None, never "")
    keep: Sequence[str] = field(default=())  # set on insert only

    def merge_rows(self, into: dict[str, Any], row: dict[str, Any]) -> None:
        for col in self.add:
            into[col] = (into.get(col) or 0) + (row.get(col) or 0)
        for col in self.greatest:
            if row.get(col) is not None:
                into[col] = _pick(max, into.get(col), row[col])
        for col in self.least:
            if row.get(col) is not None:
                into[col] = _pick(min, into.get(col), row[col])
        for col in self.replace:
            if row.get(col) is not None:
                into[col] = row[col]


def _pick(fn: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else fn(a, b)


class Upserts:
    """Collects rows per key for one table during a flush, then writes them in a few statements."""

    def __init__(self, table: Table, merge: Merge) -> None:
        self.table, self.merge = table, merge
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def put(self, row: dict[str, Any]) -> None:
        key = tuple(row[k] for k in self.merge.keys)
        found = self.rows.get(key)
        if found is None:
            self.rows[key] = dict(row)
        else:
            self.merge.merge_rows(found, row)

    async def write(self, session: AsyncSession) -> None:
        if not self.rows:
            return
        columns = _columns(self.rows.values())
        defaults = _defaults(self.table)  # a column no row mentioned is inserted with its default, never NULL
        columns += [col for col in defaults if col not in columns]
        rows = [{col: row.get(col, defaults.get(col)) for col in columns} for row in self.rows.values()]
        dialect = (await session.connection()).dialect
        key = (self.table, self.merge, dialect.name, tuple(columns))
        clause = _CLAUSES.get(key)
        if clause is None:
            clause = _CLAUSES[key] = on_conflict(dialect, self.table, self.merge, columns)
        for start in range(0, len(rows), CHUNK):
            await insert_many(session, self.table, columns, rows[start : start + CHUNK], clause)
        self.rows.clear()


def on_conflict(dialect: Dialect, table: Table, merge: Merge, columns: list[str]) -> str:
    """``ON CONFLICT (keys) DO UPDATE SET …`` by ``merge``'s rules for exactly ``columns`` (names from the
    table's own metadata, quoted by the dialect)."""
    quote = dialect.identifier_preparer.quote
    name = dialect.identifier_preparer.format_table(table)
    greatest, least = ("greatest", "least") if dialect.name == "postgresql" else ("max", "min")

    def old(col: str) -> str:
        return f"{name}.{quote(col)}"

    def new(col: str) -> str:
        return f"excluded.{quote(col)}"

    sets: dict[str, str] = {}
    for col in (c for c in merge.add if c in columns):
        sets[col] = f"coalesce({old(col)}, 0) + coalesce({new(col)}, 0)"
    for fn, cols in ((greatest, merge.greatest), (least, merge.least)):
        for col in (c for c in cols if c in columns):
            sets[col] = f"coalesce({fn}({old(col)}, {new(col)}), {old(col)}, {new(col)})"
    for col in (c for c in merge.replace if c in columns):
        sets[col] = f"coalesce({new(col)}, {old(col)})"
    keys = ", ".join(quote(col) for col in merge.keys)
    action = "DO UPDATE SET " + ", ".join(f"{quote(c)} = {v}" for c, v in sets.items()) if sets else "DO NOTHING"
    return f"ON CONFLICT ({keys}) {action}"


def _defaults(table: Table) -> dict[str, Any]:
    """The table's columns with a scalar default (0 for counters, None where the default is NULL)."""
    found = _DEFAULTS.get(table)
    if found is None:
        found = _DEFAULTS[table] = {
            col.name: col.default.arg  # type: ignore[attr-defined]
            for col in table.columns
            if col.default is not None and col.default.is_scalar
        }
    return found


_DEFAULTS: dict[Table, dict[str, Any]] = {}


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)
