"""Typed settings, read from ``KNOWCAST_*`` environment variables and an optional TOML file.

Settings are built once at start (``load_settings``), validated, and passed in; nothing reads them as a global.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from knowcast.errors import ConfigError

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105  # refused outside development
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Everything Knowcast can be configured with. See docs/operations.md for the full table."""

    model_config = SettingsConfigDict(env_prefix="KNOWCAST_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    secret_key: str = DEFAULT_SECRET_KEY
    database_url: str = "sqlite+aiosqlite:///./data/knowcast.db"
    redis_url: str | None = None
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    rtmp_public_url: str = "rtmp://127.0.0.1:1935/live"
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    default_currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    site_name: str = "Knowcast"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=8_388_608, ge=1024)
    # the hot requests answered ahead of the app (knowcast/fast_paths.py); off: every request takes its route
    fast_paths: bool = True
    session_days: int = Field(default=30, ge=1)
    # failed sign-ins (accounts/throttle.py): per account from one address; per address over all accounts;
    # per account over all the addresses it never signed in from, after a doubling delay up to the max
    login_attempts_per_account: int = Field(default=5, ge=1)
    login_attempts_per_address: int = Field(default=20, ge=1)
    login_attempts_per_account_total: int = Field(default=100, ge=1)
    login_delay_max_seconds: float = Field(default=60.0, ge=0)
    login_window_seconds: int = Field(default=300, ge=1)
    signup_per_address: int = Field(default=10, ge=1)
    orders_per_minute: int = Field(default=20, ge=1)  # orders one account may create per minute (POST /orders)
    # addresses or networks ("10.0.0.5,172.16.0.0/12") of the reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; empty (the default): the connecting peer's address is the client's
    trusted_proxies: str = ""
    encryption_keys: str | None = None  # "kid:base64,kid2:base64"; else <data_dir>/keys/keyring.json
    lookup_key: str | None = None
    auto_migrate: bool | None = None
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    log_json: bool = True
    log_level: str = "INFO"
    # real-time plane (docs/protocol.md)
    realtime_tick_ms: int = Field(default=200, ge=100, le=250)
    realtime_send_buffer_bytes: int = Field(default=262_144, ge=4096)  # a viewer further behind is cut off
    realtime_history: int = Field(default=512, ge=16)  # frames kept per room for resume
    realtime_presence_timeout_seconds: float = Field(default=45.0, ge=1)
    realtime_redis_prefix: str = "kc:rt"  # keys and channels of the Redis fan-out backend
    chat_max_length: int = Field(default=200, ge=1, le=2000)
    chat_burst: int = Field(default=3, ge=1)  # messages per chat_burst_seconds, then a mute
    chat_burst_seconds: float = Field(default=2.0, gt=0)
    chat_mute_seconds: int = Field(default=10, ge=1)
    # video plane (docs/media.md). ingest "auto": embedded in `knowcast serve`/`demo` with one worker, else off
    ingest: Literal["auto", "embedded", "external", "off"] = "auto"
    rtmp_host: str = "127.0.0.1"
    rtmp_port: int = Field(default=1935, ge=0, le=65535)
    ffmpeg: str | None = None
    media_segment_seconds: float = Field(default=1.0, ge=0.5, le=6)
    media_ladder: str = ""  # e.g. "720p,480p,360p"; empty = passthrough
    media_reconnect_grace_seconds: float = Field(default=30, ge=0)
    media_min_free_mb: int = Field(default=200, ge=0)
    media_url_ttl_seconds: int = Field(default=3600, ge=60)
    media_playback_url: str = ""  # external mode: e.g. "https://cdn.example.com/hls/room-{room_id}/index.m3u8"
    media_hook_secret: str = ""  # external mode: the shared secret in the hook URLs
    # WebRTC (docs/media.md): comma-separated stun:/turn: URLs given to browsers and to aiortc, e.g.
    # "stun:stun.example.com:3478,turn:turn.example.com:3478?transport=udp"; empty = host candidates only
    webrtc_ice_servers: str = ""
    webrtc_turn_username: str = ""  # for the turn: URLs (coturn's static user, docs/operations.md)
    webrtc_turn_password: str = ""
    webrtc_max_publishers: int = Field(default=4, ge=0)  # WHIP sessions one process encodes at once
    webrtc_max_viewers: int = Field(default=8, ge=0)  # WHEP viewers one process encodes for; then HLS
    webrtc_guest_invite_ttl_seconds: int = Field(default=7200, ge=60)  # how long a 连麦 invite link is valid
    # Janus scaled mode (docs/media.md): the program is published once into a Janus videoroom and WebRTC viewers
    # watch it there; empty URL = embedded mode (this process encodes for each WebRTC viewer)
    janus_url: str = ""  # Janus's HTTP API as this server reaches it, e.g. "http://127.0.0.1:8088/janus"
    janus_public_url: str = ""  # the same API as browsers reach it (e.g. "/janus" behind nginx); default janus_url
    janus_token_secret: str = ""  # janus.jcfg's token_auth_secret (signed tokens)
    janus_admin_key: str = ""  # janus.plugin.videoroom.jcfg's admin_key (rooms are created through the API)
    janus_token_ttl_seconds: int = Field(default=120, ge=10)  # a viewer's tokens: enough to join, then unused
    demo_audience: int = Field(default=0, ge=0, le=500)  # `knowcast demo`: simulated viewers in the demo room
    demo_stream_room: int | None = None  # `knowcast demo`: publish a synthetic stream into this room
    # commerce (docs/commerce.md)
    # the enabled providers, best first, e.g. "wechat,alipay" (docs/payments.md); "sandbox" pays nothing
    payment_providers: str = "sandbox"
    payment_sandbox_in_production: bool = False  # test payments in production mode: every page says so
    payment_query_after_seconds: float = Field(default=60, ge=0)  # ask the provider about a silent payment
    payment_reconcile_hour: int = Field(default=10, ge=0, le=23)  # nightly reconciliation, China Standard Time
    payment_webhook_secret: str | None = None  # sandbox HMAC key; default: derived from secret_key
    payment_webhook_url: str | None = None  # where the sandbox delivers webhooks; default: public_url
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None  # default: Stripe's own API (https://api.stripe.com)
    stripe_account: str | None = None  # a connected account (acct_...): notifications must name it
    # Alipay (docs/payments.md): keys are PEM text, a path to a PEM file, or the bare base64 Alipay's tools show
    alipay_app_id: str | None = None  # the open-platform app (2021...)
    alipay_app_private_key: str | None = None  # the app's private key (应用私钥): signs every request
    alipay_public_key: str | None = None  # Alipay's public key (支付宝公钥), not the app's: checks answers
    alipay_seller_id: str | None = None  # the merchant's PID (2088...): every notification must name it
    alipay_gateway: str = "https://openapi.alipay.com/gateway.do"  # sandbox: openapi-sandbox.dl.alipaydev.com
    # WeChat Pay API v3 (docs/payments.md#wechat-pay): the merchant (商户号), the Official Account bound to it
    wechat_mchid: str | None = None
    wechat_appid: str | None = None  # the Official Account's AppID (公众号), bound to the merchant
    wechat_app_secret: str | None = None  # its AppSecret: the silent snsapi_base login that gives JSAPI the openid
    wechat_apiv3_key: str | None = None  # the APIv3 key (32 characters) set in the merchant platform
    wechat_private_key_path: Path | None = None  # apiclient_key.pem (the merchant API certificate's key)
    wechat_cert_serial_no: str | None = None  # the merchant API certificate's serial number
    wechat_public_key_path: Path | None = None  # the WeChat Pay public key (pub_key.pem); unset: platform certs
    wechat_public_key_id: str | None = None  # PUB_KEY_ID_...
    wechat_api_base: str = "https://api.mch.weixin.qq.com"  # the tests point it at their simulator
    wechat_oauth_base: str = "https://open.weixin.qq.com"  # snsapi_base authorize page
    wechat_sns_base: str = "https://api.weixin.qq.com"  # code -> openid
    order_hold_minutes: int = Field(default=15, ge=1, le=1440)
    flash_hold_seconds: int = Field(default=120, ge=5, le=3600)
    flash_session_cache_seconds: int = Field(default=300, ge=0, le=3600)  # 0: every attempt reads its session
    flash_claim_stale_seconds: int = Field(default=30, ge=1)
    commerce_sweep_seconds: float = Field(default=2.0, gt=0)
    download_link_seconds: int = Field(default=600, ge=10)
    # an origin of its own for bought files (e.g. "https://dl.example.com", served by this same app); empty:
    # the site's origin. Uploaded files never share the shop's origin, cookies or storage (commerce/downloads.py)
    download_url: str = ""
    # integrations (docs/integrations.md)
    webhook_max_attempts: int = Field(default=10, ge=1, le=30)
    webhook_backoff_seconds: float = Field(default=30.0, gt=0)  # before the 2nd attempt; doubles, with jitter
    webhook_backoff_max_seconds: float = Field(default=21_600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_poll_seconds: float = Field(default=5.0, gt=0)  # the longest the dispatcher sleeps between checks
    webhook_allow_private: bool | None = None  # loopback/private destinations; default: only in development
    webhook_log_days: int = Field(default=30, ge=1)  # finished deliveries older than this are deleted
    # analytics (docs/analytics.md; figures as docs/metrics.md defines them)
    analytics_flush_seconds: float = Field(default=0.5, gt=0, le=10)  # the batching writer's longest wait
    analytics_batch_size: int = Field(default=2000, ge=10, le=50_000)
    analytics_queue_max: int = Field(default=200_000, ge=100)  # beyond this, new events are dropped and counted
    analytics_attribution_hours: int = Field(default=24, ge=1, le=24 * 30)
    analytics_retention_days: int = Field(default=90, ge=1)  # raw events older than this fold into daily facts
    ga4_measurement_id: str | None = None  # set both to forward events to Google Analytics 4
    ga4_api_secret: str | None = None
    ga4_endpoint: str = "https://www.google-analytics.com/mp/collect"
    # growth (docs/growth.md): reminders by mail, posters, FAQ auto-replies, run-of-show
    smtp_host: str | None = None  # unset: mail is written to <data_dir>/mail/*.eml instead of being sent
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "Knowcast <noreply@localhost>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_max_attempts: int = Field(default=8, ge=1, le=30)
    mail_backoff_seconds: float = Field(default=30.0, gt=0)  # before the 2nd attempt; doubles, with jitter
    mail_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    mail_poll_seconds: float = Field(default=5.0, gt=0)  # the longest the mail worker sleeps between checks
    poster_font: str | None = None  # a font file with CJK glyphs; default: found with fc-match / known paths
    faq_window_seconds: int = Field(default=300, ge=1)  # one auto-reply per viewer per question per window
    show_tick_seconds: float = Field(default=1.0, gt=0, le=60)  # how often auto-advancing steps are checked

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # no .env or secrets-dir magic: the environment, then what load_settings passes in
        return (init_settings, env_settings)

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        weak = self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < MIN_SECRET_LENGTH
        if self.mode == "production" and weak:
            raise ConfigError(
                "production mode needs a secret key: set KNOWCAST_SECRET_KEY to a random string of at "
                f"least {MIN_SECRET_LENGTH} characters (for example: python -c "
                "'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @model_validator(mode="after")
    def _check_trusted_proxies(self) -> Settings:
        for entry in self.trusted_proxy_list:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigError(
                    f"KNOWCAST_TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        return self

    @model_validator(mode="after")
    def _check_download_url(self) -> Settings:
        parts = urlsplit(self.download_url)
        if self.download_url and (parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/")):
            raise ConfigError("KNOWCAST_DOWNLOAD_URL is an origin: http(s)://host[:port], e.g. https://dl.example.com")
        return self

    @model_validator(mode="after")
    def _check_janus(self) -> Settings:
        if not self.janus_url:
            return self
        if urlsplit(self.janus_url).scheme not in ("http", "https"):
            raise ConfigError("KNOWCAST_JANUS_URL is Janus's HTTP API, e.g. http://127.0.0.1:8088/janus")
        if not (self.janus_token_secret and self.janus_admin_key):
            raise ConfigError(
                "Janus scaled mode needs KNOWCAST_JANUS_TOKEN_SECRET (janus.jcfg's token_auth_secret) and "
                "KNOWCAST_JANUS_ADMIN_KEY (the videoroom plugin's admin_key)"
            )
        return self

    @property
    def janus_browser_origin(self) -> str:
        """The origin of Janus's API as browsers call it, when it is not this site's (for the pages' CSP)."""
        parts = urlsplit(self.janus_public_url or self.janus_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]

    @property
    def payment_provider_names(self) -> list[str]:
        """KNOWCAST_PAYMENT_PROVIDERS, split and cleaned, in order (duplicates dropped)."""
        names = [name.strip().lower() for name in self.payment_providers.split(",")]
        return list(dict.fromkeys(name for name in names if name))

    @property
    def test_payments(self) -> bool:
        """Production taking test payments (the sandbox, explicitly allowed): every page says so."""
        return self.mode == "production" and "sandbox" in (self.payment_provider_names or ["sandbox"])

    def check_payments_for_production(self) -> None:
        """Production is never free: the sandbox hands out paid goods for a button press."""
        if self.test_payments and not self.payment_sandbox_in_production:
            raise ConfigError(
                "production mode with the sandbox payment provider would give paid goods away: set "
                "KNOWCAST_PAYMENT_PROVIDERS to your real providers (wechat, alipay, stripe), or set "
                "KNOWCAST_PAYMENT_SANDBOX_IN_PRODUCTION=true to take test payments (every page then says so)"
            )

    @property
    def is_development(self) -> bool:
        return self.mode == "development"

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_development if self.auto_migrate is None else self.auto_migrate

    def serving_at(self, host: str, port: int) -> Settings:
        """These settings for a server listening on ``host:port`` (``--host``/``--port``): unless
        KNOWCAST_PUBLIC_URL says where users reach it, that is the address links, embeds and origins use."""
        update: dict[str, object] = {"host": host, "port": port}
        if "public_url" not in self.model_fields_set:
            shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104  (naming, not binding)
            update["public_url"] = f"http://{shown}:{port}"
        return self.model_copy(update=update)

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def webhook_private_allowed(self) -> bool:
        return self.is_development if self.webhook_allow_private is None else self.webhook_allow_private

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(toml_path: Path | None = None, **overrides: Any) -> Settings:
    """Build settings: explicit overrides win over ``KNOWCAST_*`` variables, which win over the TOML file.

    The TOML file holds a ``[knowcast]`` table whose keys are the field names (``database_url = "..."``).
    """
    values: dict[str, Any] = {}
    if toml_path is not None:
        try:
            values.update(tomllib.loads(toml_path.read_text(encoding="utf-8")).get("knowcast", {}))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read settings file {toml_path}: {exc}") from exc
        in_env = {key[len("KNOWCAST_") :].lower() for key in os.environ if key.startswith("KNOWCAST_")}
        values = {key: value for key, value in values.items() if key not in in_env}
    values.update(overrides)
    try:
        return Settings(**values)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
