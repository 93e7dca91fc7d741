"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL, with per-column merge rules.

Rows are merged in Python first (one row per key), because PostgreSQL refuses to update the same row twice in
one statement. Additive columns make the facts correct when several processes write for the same room.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

CHUNK = 500
# The statements, by (table, merge rules, dialect, columns), as textual SQL with typed binds. SQLAlchemy's
# dialect INSERT … ON CONFLICT constructs have no cache key (``inherit_cache = False``), so each execution of
# one compiled it again — 1 ms a table, more than writing a hundred rows; a ``text()`` is compiled once and
# cached like any statement, and its typed binds still convert values (dates, JSON) as the columns do.
_STATEMENTS: dict[tuple[Table, Merge, str, tuple[str, ...]], TextClause] = {}
_PREPARERS = {
    "postgresql": postgresql.dialect().identifier_preparer,  # type: ignore[no-untyped-call]
    "sqlite": sqlite.dialect().identifier_preparer,
}


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
        for start in range(0, len(rows), CHUNK):
            await session.execute(self._statement(session, columns), rows[start : start + CHUNK])
        self.rows.clear()

    def _statement(self, session: AsyncSession, columns: list[str]) -> TextClause:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        key = (self.table, self.merge, dialect, tuple(columns))
        stmt = _STATEMENTS.get(key)
        if stmt is None:
            stmt = _STATEMENTS[key] = upsert_sql(self.table, self.merge, dialect, columns)
        return stmt


def upsert_sql(table: Table, merge: Merge, dialect: str, columns: list[str]) -> TextClause:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` by ``merge``'s rules for exactly ``columns``, as a text()."""
    quote = _PREPARERS[dialect].quote
    name = _PREPARERS[dialect].format_table(table)
    greatest, least = ("greatest", "least") if dialect == "postgresql" else ("max", "min")

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
    insert = f"INSERT INTO {name} ({', '.join(quote(col) for col in columns)})"
    sql = f"{insert} VALUES ({', '.join(':' + col for col in columns)}) ON CONFLICT ({keys}) {action}"
    return text(sql).bindparams(*(bindparam(col, type_=table.c[col].type) for col in columns))


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
