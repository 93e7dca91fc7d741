"""Settings: environment, TOML file, and the production guard on the secret key."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowcast.errors import ConfigError
from knowcast.settings import DEFAULT_SECRET_KEY, load_settings


def test_defaults_are_embedded_and_chinese_first() -> None:
    settings = load_settings()
    assert settings.mode == "development"
    assert settings.database_url == "sqlite+aiosqlite:///./data/knowcast.db"
    assert settings.default_locale == "zh-CN"
    assert settings.default_currency == "CNY"
    assert settings.redis_url is None


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWCAST_PORT", "9001")
    monkeypatch.setenv("KNOWCAST_DEFAULT_LOCALE", "en")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.default_locale == "en"


def test_toml_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "knowcast.toml"
    path.write_text('[knowcast]\nport = 8123\nsite_name = "知识小店"\n', encoding="utf-8")
    assert load_settings(path).site_name == "知识小店"
    monkeypatch.setenv("KNOWCAST_PORT", "8999")
    assert load_settings(path).port == 8999


def test_unreadable_toml_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[knowcast\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(path)


@pytest.mark.parametrize("secret", [None, DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_a_default_or_weak_secret(secret: str | None) -> None:
    overrides = {"mode": "production"} | ({"secret_key": secret} if secret else {})
    with pytest.raises(ConfigError, match="KNOWCAST_SECRET_KEY"):
        load_settings(**overrides)


def test_production_starts_with_a_real_secret() -> None:
    settings = load_settings(mode="production", secret_key="x" * 40)
    assert settings.mode == "production"
    assert not settings.should_auto_migrate


def test_invalid_values_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid settings"):
        load_settings(mode="staging")


def test_cookies_are_secure_behind_https() -> None:
    assert load_settings(public_url="https://live.example.com").secure_cookies
    assert not load_settings(public_url="http://127.0.0.1:8000").secure_cookies


def test_a_server_on_another_port_is_its_own_public_address_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """`knowcast serve/demo --port 8311`: links, embed codes and origin checks name where it listens."""
    moved = load_settings().serving_at("127.0.0.1", 8311)
    assert (moved.port, moved.public_url) == (8311, "http://127.0.0.1:8311")
    assert load_settings().serving_at("0.0.0.0", 9000).public_url == "http://127.0.0.1:9000"
    monkeypatch.setenv("KNOWCAST_PUBLIC_URL", "https://live.example.com")
    behind_a_proxy = load_settings().serving_at("127.0.0.1", 8311)
    assert (behind_a_proxy.port, behind_a_proxy.public_url) == (8311, "https://live.example.com")
