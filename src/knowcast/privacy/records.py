"""The shape of a personal-data export: named tables of JSON-ready rows, and helpers to make those rows."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

Row = dict[str, Any]
Tables = dict[str, list[Row]]


def plain(value: object) -> Any:
    """A value as JSON carries it: times as ISO 8601, enums as their value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def row(obj: object, *fields: str, **extra: object) -> Row:
    """``fields`` read from ``obj`` (a table row), plus ``extra`` computed by the caller."""
    return {**{name: plain(getattr(obj, name)) for name in fields}, **{k: plain(v) for k, v in extra.items()}}


def rows(objs: Iterable[object], *fields: str) -> list[Row]:
    return [row(obj, *fields) for obj in objs]


async def update_where(session: AsyncSession, model: Any, condition: ColumnElement[bool], **values: Any) -> None:
    """One bulk UPDATE of ``model`` rows (an eraser detaching or blanking what is left of a person)."""
    await session.execute(update(model).where(condition).values(**values).execution_options(synchronize_session=False))
