"""Fixtures for the WeChat Pay tests: keys generated per module, the simulator on loopback, the provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from knowcast.commerce.providers.wechat import WechatProvider
from knowcast.commerce.providers.wechat_sdk import Credentials
from knowcast.settings import Settings
from tests.commerce.simulators.wechat import WechatKeys, WechatSimulator


@pytest.fixture(scope="module")
def wechat_keys() -> WechatKeys:
    return WechatKeys.generate()


@pytest.fixture
def wechat_sim(wechat_keys: WechatKeys) -> Iterator[WechatSimulator]:
    with WechatSimulator(wechat_keys).run() as sim:
        yield sim


def credentials(sim: WechatSimulator, notify_url: str = "http://127.0.0.1:9/unused", **changes: str) -> Credentials:
    keys = sim.keys
    fields = {
        "mchid": keys.mchid,
        "appid": keys.appid,
        "apiv3_key": keys.apiv3_key,
        "private_key": keys.merchant_key_pem(),
        "cert_serial_no": keys.merchant_serial,
        "gateway": sim.base_url,
        "notify_url": notify_url,
    }
    if sim.public_key_mode:
        fields.update(public_key=keys.platform_public_pem(), public_key_id=keys.public_key_id)
    fields.update(changes)
    return Credentials(**fields)  # type: ignore[arg-type]


@pytest.fixture
def wechat(wechat_sim: WechatSimulator) -> WechatProvider:
    return WechatProvider(credentials(wechat_sim))


def with_wechat(settings: Settings, sim: WechatSimulator, folder: Path, **overrides: Any) -> Settings:
    """``settings`` with WeChat Pay as the only provider, its keys written to ``folder`` as a merchant would."""
    values: dict[str, Any] = write_keys(sim, folder)
    for name in ("wechat_private_key_path", "wechat_public_key_path"):
        values[name] = Path(values[name])
    return settings.model_copy(update={"payment_providers": "wechat", **values, **overrides})


def write_keys(sim: WechatSimulator, folder: Path) -> dict[str, str]:
    """The KNOWCAST_WECHAT_* settings a merchant would set, with the key files written to ``folder``."""
    keys = sim.keys
    private = folder / "apiclient_key.pem"
    private.write_text(keys.merchant_key_pem(), encoding="utf-8")
    public = folder / "pub_key.pem"
    public.write_text(keys.platform_public_pem(), encoding="utf-8")
    return {
        "wechat_mchid": keys.mchid,
        "wechat_appid": keys.appid,
        "wechat_app_secret": keys.app_secret,
        "wechat_apiv3_key": keys.apiv3_key,
        "wechat_private_key_path": str(private),
        "wechat_cert_serial_no": keys.merchant_serial,
        "wechat_public_key_path": str(public),
        "wechat_public_key_id": keys.public_key_id,
        "wechat_api_base": sim.base_url,
        "wechat_oauth_base": sim.base_url,
        "wechat_sns_base": sim.base_url,
    }
