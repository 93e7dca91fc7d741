"""The chat line a commerce event shows in the room (events marked ``system``): "限时秒杀开始：…", "…已抢光",
"主播发券啦", "抽奖开始", "开奖啦", "小李 买了《…》".

Each viewer reads it in their own language: the event carries the catalog key (``message``) and its
``params``, and the page formats that key's ICU message from its own catalog (docs/protocol.md, "System
lines"). ``text`` is the same line in the shop's default language, for clients that do not translate and for
the replay's record."""

from __future__ import annotations

from knowcast import i18n
from knowcast.context import AppContext
from knowcast.money import money

Param = str | int


def system(ctx: AppContext, key: str, **params: Param) -> dict[str, object]:
    """The payload fields of an event published as a system chat line (``Event(..., system=True)``):
    ``message``, ``params`` and ``text``."""
    message = f"shop.system.{key}"
    return {"message": message, "params": params, "text": line(ctx, key, **params)}


def line(ctx: AppContext, key: str, **params: Param) -> str:
    shown: dict[str, object] = dict(params)
    if isinstance(params.get("price"), int):
        shown["price"] = money(int(params["price"]), str(params.get("currency", "CNY")))
    return i18n.translate(ctx.settings.default_locale, f"shop.system.{key}", **shown)
