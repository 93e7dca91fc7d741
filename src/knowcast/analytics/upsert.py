"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL, with per-column merge rules.

Rows are merged in Python first (one row per key), because PostgreSQL refuses to update the same row twice in
one statement. Additive columns make the facts correct when several processes write for the same room.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

CHUNK = 500
# built statements by (table, merge rules, dialect, columns): a flush reuses them, and with them their compiled
# forms and cache keys (building one and its cache key cost more than writing a hundred rows)
_STATEMENTS: dict[tuple[Table, Merge, str, tuple[str, ...]], Any] = {}


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
        defaults = {col: self._default(col) for col in columns}
        rows = [{col: row.get(col, defaults[col]) for col in columns} for row in self.rows.values()]
        for start in range(0, len(rows), CHUNK):
            await session.execute(self._statement(session, columns), rows[start : start + CHUNK])
        self.rows.clear()

    def _default(self, column: str) -> Any:
        """The column's scalar default (0 for counters), so a row that did not mention it inserts no NULL."""
        default = self.table.c[column].default
        arg = getattr(default, "arg", None)
        return None if callable(arg) else arg

    def _statement(self, session: AsyncSession, columns: list[str]) -> Any:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        key = (self.table, self.merge, dialect, tuple(columns))
        stmt = _STATEMENTS.get(key)
        if stmt is None:
            stmt = _STATEMENTS[key] = self._build(dialect, columns)
        return stmt

    def _build(self, dialect: str, columns: list[str]) -> Any:
        pg = dialect == "postgresql"
        stmt = (postgresql.insert if pg else sqlite.insert)(self.table)
        new, cols = stmt.excluded, self.table.c
        greatest, least = (func.greatest, func.least) if pg else (func.max, func.min)
        merge = self.merge
        sets: dict[str, Any] = {}
        for col in merge.add:
            if col in columns:
                sets[col] = func.coalesce(cols[col], 0) + func.coalesce(new[col], 0)
        for col in merge.greatest:
            if col in columns:
                sets[col] = func.coalesce(greatest(cols[col], new[col]), cols[col], new[col])
        for col in merge.least:
            if col in columns:
                sets[col] = func.coalesce(least(cols[col], new[col]), cols[col], new[col])
        for col in merge.replace:
            if col in columns:
                sets[col] = func.coalesce(new[col], cols[col])
        if not sets:
            return stmt.on_conflict_do_nothing(index_elements=list(merge.keys))
        return stmt.on_conflict_do_update(index_elements=list(merge.keys), set_=sets)


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)
