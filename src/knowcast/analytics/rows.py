"""Many rows into one table in one driver call: the analytics writer's inserts and upserts.

SQLAlchemy's executemany builds, for every row, a dictionary of every bind and runs each value through its
type's converter; for the writer's few hundred rows a flush (a join storm's view starts, ten thousand viewers'
heartbeats) that was most of the writer's time. Here the statement is built once per (table, columns, tail,
dialect) in the driver's own placeholders, with each column's converter taken from its SQLAlchemy type for
that dialect (so dates, JSON and enums are stored exactly as the ORM stores them), and each row becomes a
tuple. Drivers with other placeholder styles go through SQLAlchemy as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

Convert = Callable[[Any], Any] | None


class Prepared(NamedTuple):
    sql: str
    converts: tuple[Convert, ...]


_PREPARED: dict[tuple[Table, tuple[str, ...], str, str], Prepared | None] = {}
_PLACEHOLDERS: dict[str, Callable[[int], str]] = {"qmark": lambda _n: "?", "numeric_dollar": lambda n: f"${n}"}


def insert_sql(
    dialect: Dialect, table: Table, columns: Sequence[str], tail: str = "", marks: Sequence[str] = ()
) -> str:
    """``INSERT INTO table (columns) VALUES (marks) tail`` with the dialect's quoting (names from the table's own
    metadata; every value is a placeholder)."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(col) for col in columns)
    values = ", ".join(marks or [f":{col}" for col in columns])
    head = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names})"
    return f"{head} VALUES ({values}) {tail}".rstrip()


async def insert_many(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]], tail: str = ""
) -> None:
    """Insert ``rows`` (dicts holding at least ``columns``) with ``tail`` after the VALUES (an ON CONFLICT
    clause written with the table's and ``excluded``'s quoted names), in the session's transaction."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    prepared = _prepare(dialect, table, tuple(columns), tail)
    if prepared is None:  # another driver's placeholders: SQLAlchemy binds and converts as usual
        stmt = text(insert_sql(dialect, table, columns, tail))
        stmt = stmt.bindparams(*(bindparam(col, type_=table.c[col].type) for col in columns))
        await session.execute(stmt, list(rows))
        return
    pairs = list(zip(columns, prepared.converts, strict=True))
    values = [tuple(row[col] if convert is None else convert(row[col]) for col, convert in pairs) for row in rows]
    await connection.exec_driver_sql(prepared.sql, values)


def _prepare(dialect: Dialect, table: Table, columns: tuple[str, ...], tail: str) -> Prepared | None:
    key = (table, columns, tail, dialect.name)
    if key not in _PREPARED:
        mark = _PLACEHOLDERS.get(dialect.paramstyle)
        _PREPARED[key] = (
            None
            if mark is None
            else Prepared(
                insert_sql(dialect, table, columns, tail, [mark(n) for n in range(1, len(columns) + 1)]),
                tuple(table.c[col].type._cached_bind_processor(dialect) for col in columns),
            )
        )
    return _PREPARED[key]
