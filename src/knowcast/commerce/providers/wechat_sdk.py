"""The ``wechatpayv3`` SDK, pointed at a configurable API base (WeChat Pay itself, or the tests' simulator).

The SDK (2.0.x) has no base-URL argument: ``Core`` sets its gateway (``_gate_way``) to
https://api.mch.weixin.qq.com in its constructor, and in platform-certificate mode that constructor already
downloads /v3/certificates from it. So the SDK's own classes are subclassed: ``GatewayCore`` answers the
configured base for the gateway before the constructor runs, and ``GatewayClient`` builds the SDK's
``WeChatPay`` around that core (the fields ``WeChatPay.__init__`` sets, with our core). Every request,
signature, verification and decryption is still the SDK's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

WECHAT_API = "https://api.mch.weixin.qq.com"


class GatewayCore(Core):  # type: ignore[misc]  # the SDK is untyped
    def __init__(self, gateway: str, **kwargs: Any) -> None:
        self._gateway = gateway.rstrip("/")
        super().__init__(**kwargs)

    @property
    def _gate_way(self) -> str:
        return self._gateway

    @_gate_way.setter
    def _gate_way(self, value: str) -> None:
        """Core's constructor assigns WeChat Pay's own address here; the configured base stays."""


@dataclass(frozen=True)
class Credentials:
    mchid: str
    appid: str
    apiv3_key: str
    private_key: str  # PEM of apiclient_key.pem
    cert_serial_no: str  # the merchant API certificate's serial number
    public_key: str | None = None  # PEM of the WeChat Pay public key (public key mode)
    public_key_id: str | None = None  # PUB_KEY_ID_...
    cert_dir: str | None = None  # platform certificate mode: where downloaded certificates are kept
    gateway: str = WECHAT_API
    notify_url: str = ""
    timeout: float = 10.0


class GatewayClient(WeChatPay):  # type: ignore[misc]  # the SDK is untyped
    def __init__(self, credentials: Credentials) -> None:
        # not super().__init__(): it would build a Core against WeChat Pay's own address (and download the
        # platform certificates from there at once); these are the fields it sets, around our core
        self._type = WeChatPayType.NATIVE
        self._mchid = credentials.mchid
        self._appid = credentials.appid
        self._notify_url = credentials.notify_url
        self._partner_mode = False
        self._core = GatewayCore(
            credentials.gateway,
            mchid=credentials.mchid,
            cert_serial_no=credentials.cert_serial_no,
            private_key=credentials.private_key,
            apiv3_key=credentials.apiv3_key,
            cert_dir=credentials.cert_dir,
            timeout=credentials.timeout,
            public_key=credentials.public_key,
            public_key_id=credentials.public_key_id,
        )

    @property
    def gateway(self) -> str:
        return str(self._core._gate_way)
