"""Shared fixtures: a migrated database (SQLite, and PostgreSQL when configured), the app, clients, users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, text

from knowcast import csrf
from knowcast.accounts import service as accounts
from knowcast.accounts.models import Role, User
from knowcast.accounts.schemas import SignUp
from knowcast.app import create_app
from knowcast.context import AppContext
from knowcast.db import migrate
from knowcast.db.base import Base
from knowcast.db.registry import load_all_models
from knowcast.deps import SESSION_COOKIE
from knowcast.settings import Settings, load_settings
from tests.services import POSTGRES_URL, database_backends, postgres_database, unavailable

PASSWORD = "correct horse battery"
SECRET = "test-secret-key-that-is-long-enough-to-pass"


@pytest.fixture(scope="session", params=database_backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head, once per session and backend; on PostgreSQL one of this run's own."""
    if request.param == "postgres":
        if not POSTGRES_URL:
            unavailable("KNOWCAST_TEST_DATABASE_URL is not set (PostgreSQL)")
        with postgres_database("kc_test") as url:
            migrate.upgrade(url)
            yield url
        return
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    yield url


def settings_for(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    """Settings for an app under test: the given database, fast password hashing, plain logs, no migrating on
    start (the session's database is migrated once); ``overrides`` on top. Fixtures that need more build on it."""
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": SECRET,
        "auto_migrate": False,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "log_json": False,
    }
    return load_settings(**(values | overrides))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path / "data")


async def _truncate(ctx: AppContext) -> None:
    load_all_models()
    async with ctx.db.engine.begin() as conn:
        existing = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        # tables/models drift is caught by tests/db/test_migrations.py, not here
        tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
        if ctx.db.dialect == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    await _truncate(application.state.ctx)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def ctx(app: object) -> AppContext:
    context: AppContext = app.state.ctx  # type: ignore[attr-defined]
    return context


Client = httpx.AsyncClient


def make_client(app: object, *, with_csrf: bool = True) -> Client:
    """A client bound to the app. Like our pages, it holds a CSRF cookie and sends the matching token."""
    client = Client(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]
    if with_csrf:
        nonce = csrf.new_nonce()
        client.cookies.set(csrf.COOKIE, nonce)
        client.headers["x-csrf-token"] = csrf.token_for(SECRET, nonce)
    return client


@pytest.fixture
async def client_factory(app: object) -> AsyncIterator[object]:
    clients: list[Client] = []

    def make(with_csrf: bool = True) -> Client:
        client = make_client(app, with_csrf=with_csrf)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(client_factory: object) -> Client:
    return client_factory()  # type: ignore[operator,no-any-return]


@dataclass
class Member:
    user: User
    client: Client
    password: str = PASSWORD


@pytest.fixture
def make_user(ctx: AppContext, client_factory: object) -> object:
    """make_user(role) → a Member: an account created directly and a client signed in as it."""
    counter = iter(range(1, 1_000_000))

    async def make(role: Role = Role.VIEWER, name: str | None = None) -> Member:
        n = next(counter)
        data = SignUp(email=f"{role.value}{n}@example.com", password=PASSWORD, display_name=name or f"{role.value} {n}")
        async with ctx.db.session() as session:
            user = await accounts.create_user(session, ctx, data, role)
            new = await accounts.open_session(session, ctx, user, ip="127.0.0.1", user_agent="pytest")
        client: Client = client_factory()  # type: ignore[operator]
        client.cookies.set(SESSION_COOKIE, new.token)
        return Member(user=user, client=client)

    return make


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("KNOWCAST_MODE", "KNOWCAST_SECRET_KEY", "KNOWCAST_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield
