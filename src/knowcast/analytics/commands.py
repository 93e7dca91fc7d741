"""``knowcast analytics ...``: import past streams from another platform, forecast from a CSV history."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from knowcast.accounts.errors import AccountsCode
from knowcast.errors import KnowcastError, NotFound
from knowcast.settings import Settings

if TYPE_CHECKING:  # numpy, scipy and statsmodels load only when a command runs, not with every `knowcast`
    from knowcast.analytics.history_import import PastStream


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("analytics", help="analytics commands").add_subparsers(title="analytics commands")
    load = group.add_parser("import-history", help="past streams from another platform (CSV) into a host's history")
    load.add_argument("file", type=Path)
    load.add_argument("--host", required=True, help="the host's email or account id")
    load.set_defaults(run=cmd_import_history)
    ahead = group.add_parser("forecast", help="forecast the next streams from a CSV history (one JSON line)")
    ahead.add_argument("--history", type=Path, required=True)
    ahead.add_argument("--horizon", type=int, default=1, help="how many streams ahead (1-52)")
    ahead.add_argument("--metric", choices=["gmv", "viewers"], default="gmv")
    ahead.set_defaults(run=cmd_forecast)


def _read(path: Path, settings: Settings) -> list[PastStream]:
    from knowcast.analytics import history_import

    def progress(line: int) -> None:
        print(f"\rread {line:,} lines", end="", file=sys.stderr, flush=True)

    streams = history_import.parse(path.read_text(encoding="utf-8-sig"), ZoneInfo(settings.timezone), progress)
    print(f"\r{len(streams):,} streams read from {path}", file=sys.stderr)
    return streams


def cmd_forecast(args: argparse.Namespace, settings: Settings) -> int:
    from knowcast.analytics import forecast_models as fm

    if not 1 <= args.horizon <= 52:
        print("--horizon takes 1 to 52 streams", file=sys.stderr)
        return 2
    try:
        streams = _read(args.history, settings)
    except (KnowcastError, OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.history}: {exc}", file=sys.stderr)
        return 2
    points = [s.point(args.metric) for s in streams]
    result = fm.forecast(points, fm.future_points(points, args.horizon))
    backtest = result["backtest"]
    assert isinstance(backtest, dict)
    answer = {
        "model": result["model"],
        "metric": args.metric,
        "streams": result["streams"],
        "enough": result["enough"],
        "note": result["note"],
        "points": result["points"],
        "low": result["low"],
        "high": result["high"],
        "level": fm.LEVEL,
        "backtest": {k: backtest[k] for k in ("origins", "mase", "mase_seasonal_naive", "models")},
    }
    print(json.dumps(answer, ensure_ascii=False))
    return 0


def cmd_import_history(args: argparse.Namespace, settings: Settings) -> int:
    try:
        streams = _read(args.file, settings)
    except (KnowcastError, OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2

    async def run() -> tuple[int, int]:
        from knowcast.accounts import service as accounts
        from knowcast.analytics import history_import
        from knowcast.app import build_context  # the key ring: accounts are found by their email's keyed hash

        ctx = build_context(settings)
        try:
            async with ctx.db.session() as session:
                given = str(args.host)
                host = (
                    await accounts.get_user(session, int(given))
                    if given.isdigit()
                    else await accounts.find_by_email(session, given)
                )
                if host is None:
                    raise NotFound(f"no account {given}", code=AccountsCode.USER_NOT_FOUND)
                return await history_import.save(session, host.id, streams)
        finally:
            await ctx.db.dispose()

    try:
        added, updated = asyncio.run(run())
    except KnowcastError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{added} streams added, {updated} updated for {args.host}")
    return 0
