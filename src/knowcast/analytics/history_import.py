"""Past streams from another platform, from a CSV file: the forecasts' history for a creator who moves here.

Columns (a header row names them, in any order; Chinese names are accepted too):
``date`` (2026-03-07, or a full date and time), ``time`` (20:00, optional), ``gmv`` (yuan, 1234.50), ``viewers``,
``orders``, ``promotion`` (1/0, yes/no, true/false, 是/否; optional). A date without a time zone is in the shop's
time zone. Every bad row is reported with its line number and nothing is imported until the file is clean.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.analytics import forecast_models as fm
from knowcast.analytics import models as m
from knowcast.analytics.errors import AnalyticsCode
from knowcast.errors import ValidationFailed

ALIASES = {
    "date": ("date", "日期", "datetime", "start", "started_at"),
    "time": ("time", "时间"),
    "gmv": ("gmv", "销售额", "成交额"),
    "viewers": ("viewers", "观看人数", "uv"),
    "orders": ("orders", "订单数", "成交单数"),
    "promotion": ("promotion", "促销", "promo"),
}
TRUE = {"1", "yes", "y", "true", "是", "有"}
FALSE = {"", "0", "no", "n", "false", "否", "无"}
MAX_GMV_YUAN = Decimal(10**10)
MAX_COUNT = 10**8


@dataclass(frozen=True)
class PastStream:
    started_at: datetime
    gmv: int  # minor units (fen)
    viewers: int
    orders: int
    promotion: bool

    def point(self, metric: str = "gmv") -> fm.Point:
        value = self.gmv if metric == "gmv" else self.viewers
        return fm.Point(self.started_at, float(value), self.promotion)


def _columns(header: list[str]) -> dict[str, int]:
    wanted = {name.strip().lower(): i for i, name in enumerate(header)}
    found = {}
    for column, names in ALIASES.items():
        for name in names:
            if name in wanted:
                found[column] = wanted[name]
                break
    missing = [c for c in ("date", "gmv", "viewers", "orders") if c not in found]
    if missing:
        raise ValidationFailed(
            f"line 1: missing column(s) {', '.join(missing)}", code=AnalyticsCode.HISTORY_MISSING_COLUMN
        )
    return found


def _when(text: str, clock: str, zone: ZoneInfo) -> datetime:
    at = datetime.fromisoformat(text.strip().replace("/", "-"))
    if clock.strip():
        at = datetime.combine(at.date(), time.fromisoformat(clock.strip()))
    if not 2000 <= at.year <= 2100:
        raise ValueError("a date between 2000 and 2100")
    return at if at.tzinfo else at.replace(tzinfo=zone)


def _count(text: str) -> int:
    value = int(text.strip().replace(",", ""))
    if not 0 <= value <= MAX_COUNT:
        raise ValueError(f"a whole number from 0 to {MAX_COUNT:,}")
    return value


def _money(text: str) -> int:
    try:
        yuan = Decimal(text.strip().replace(",", "").lstrip("¥"))
    except InvalidOperation:
        raise ValueError("an amount in yuan, e.g. 1234.50") from None
    if not Decimal(0) <= yuan <= MAX_GMV_YUAN or yuan.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("an amount in yuan from 0, with at most two decimals")
    return int(yuan * 100)


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError("1/0, yes/no or 是/否")


def parse(text: str, zone: ZoneInfo, progress: Callable[[int], None] | None = None) -> list[PastStream]:
    """Every row as a past stream, or ValidationFailed listing each bad line (up to 20)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise ValidationFailed("the file is empty", code=AnalyticsCode.HISTORY_EMPTY)
    columns = _columns(rows[0])
    out: list[PastStream] = []
    problems: list[str] = []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        cell = {name: row[i] if i < len(row) else "" for name, i in columns.items()}
        try:
            out.append(
                PastStream(
                    started_at=_when(cell["date"], cell.get("time", ""), zone),
                    gmv=_money(cell["gmv"]),
                    viewers=_count(cell["viewers"]),
                    orders=_count(cell["orders"]),
                    promotion=_flag(cell.get("promotion", "")),
                )
            )
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
        if progress is not None and line % 500 == 0:
            progress(line)
    if problems:
        shown = "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ValidationFailed(shown, code=AnalyticsCode.HISTORY_BAD_ROWS)
    if not out:
        raise ValidationFailed("no streams in the file", code=AnalyticsCode.HISTORY_EMPTY)
    return sorted(out, key=lambda s: s.started_at)


async def save(session: AsyncSession, host_id: int, streams: Iterable[PastStream]) -> tuple[int, int]:
    """Add the streams to the host's history; a stream already imported (same start) is updated. (added, updated)"""
    existing = {
        row.started_at: row
        for row in await session.scalars(select(m.ImportedStream).where(m.ImportedStream.host_id == host_id))
    }
    added = updated = 0
    for stream in streams:
        row = existing.get(stream.started_at)
        if row is None:
            session.add(m.ImportedStream(host_id=host_id, **stream.__dict__))
            added += 1
        else:
            row.gmv, row.viewers, row.orders, row.promotion = (
                stream.gmv,
                stream.viewers,
                stream.orders,
                stream.promotion,
            )
            updated += 1
    await session.commit()
    return added, updated
