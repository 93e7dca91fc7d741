"""Production is never free: with the sandbox provider (which hands out paid goods for a button press) the
server refuses to start, naming the settings to change, unless test payments are explicitly allowed; then
every page says so with a banner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from knowcast.app import create_app
from knowcast.errors import ConfigError
from knowcast.settings import Settings

SECRET = "a-production-secret-that-is-long-enough-0123456789"


def production(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"mode": "production", "secret_key": SECRET, **extra})


async def test_production_with_the_sandbox_refuses_to_start(app: Any, settings: Settings) -> None:
    """``app`` (development) made the key file the production apps here read."""
    with pytest.raises(ConfigError) as refused:
        create_app(production(settings))
    assert "KNOWCAST_PAYMENT_PROVIDERS" in refused.value.message
    assert "KNOWCAST_PAYMENT_SANDBOX_IN_PRODUCTION=true" in refused.value.message
    create_app(production(settings, payment_sandbox_in_production=True))  # explicitly allowed: it starts
    real = production(settings, payment_providers="stripe", stripe_secret_key="sk_live_x", stripe_webhook_secret="w")
    create_app(real)  # a real provider: nothing to say


def test_knowcast_serve_in_production_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWCAST_")}
    env.update(
        KNOWCAST_MODE="production",
        KNOWCAST_SECRET_KEY=SECRET,
        KNOWCAST_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}",
        KNOWCAST_DATA_DIR=str(tmp_path / "data"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "knowcast", "serve", "--port", "9"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert (
        "KNOWCAST_PAYMENT_SANDBOX_IN_PRODUCTION=true" in result.stderr and "KNOWCAST_PAYMENT_PROVIDERS" in result.stderr
    )


async def test_test_payments_in_production_show_a_banner_on_every_page(app: Any, settings: Settings) -> None:
    """``app`` (development) made the database and the key file this production app then uses."""
    development = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    async with development:
        assert 'data-testid="test-payments-banner"' not in (await development.get("/")).text
    allowed = create_app(production(settings, payment_sandbox_in_production=True))
    async with allowed.router.lifespan_context(allowed):
        transport = httpx.ASGITransport(app=allowed)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            for path in ("/", "/signin", "/signup", "/no-such-page"):
                page = await client.get(path, headers={"accept": "text/html", "accept-language": "zh-CN"})
                assert 'data-testid="test-payments-banner"' in page.text, path
                assert "测试支付" in page.text
            english = await client.get("/signin", headers={"accept-language": "en"})
            assert "Test payments: this site takes sandbox payments" in english.text
