"""The human line a commerce event shows in the room's chat (events marked ``system``), in the shop's
default language: "限时秒杀开始：…", "…已抢光", "主播发券啦", "抽奖开始", "开奖啦", "小李 买了《…》"."""

from __future__ import annotations

from knowcast.context import AppContext
from knowcast.web import i18n


def line(ctx: AppContext, key: str, **params: object) -> str:
    return i18n.translate(ctx.settings.default_locale, f"shop.system.{key}", **params)


def yuan(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"
