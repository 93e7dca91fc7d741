"""A real Knowcast server process for browser and multi-process tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SECRET = "live-server-secret-key-long-enough-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    port: int
    data_dir: Path
    database_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(data_dir: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNOWCAST_") or k.startswith("KNOWCAST_TEST_")}
    env.update(
        KNOWCAST_DATABASE_URL=database_url,
        KNOWCAST_DATA_DIR=str(data_dir),
        KNOWCAST_SECRET_KEY=SECRET,
        KNOWCAST_PUBLIC_URL=f"http://127.0.0.1:{port}",
        KNOWCAST_ARGON2_TIME_COST="1",
        KNOWCAST_ARGON2_MEMORY_KIB="1024",
        KNOWCAST_RTMP_PORT=str(free_port()),
        KNOWCAST_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


BIND_ATTEMPTS = 3


def start_server(tmp: Path, database_url: str | None = None, args: tuple[str, ...] = (), **extra: str) -> LiveServer:
    """Start ``knowcast serve`` on a free port (migrating its database) and wait until /healthz answers.

    A port found free can be taken by another process before the server binds it (its HTTP port or the RTMP
    port chosen here): then it starts again on new ports, up to BIND_ATTEMPTS times."""
    for attempt in range(1, BIND_ATTEMPTS + 1):
        try:
            return _start_once(tmp, database_url, args, **extra)
        except PortTaken:
            if attempt == BIND_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


class PortTaken(RuntimeError):
    """The server could not bind a port chosen as free: another process took it in between."""


def _start_once(tmp: Path, database_url: str | None, args: tuple[str, ...], **extra: str) -> LiveServer:
    port = free_port()
    data_dir = tmp / f"server-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite+aiosqlite:///{data_dir / 'knowcast.db'}"
    env = server_env(data_dir, database_url, port, **extra)
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "knowcast", "serve", "--port", str(port), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", port, data_dir, database_url, env, process, log_path)
    _wait_healthy(server)
    return server


def _wait_healthy(server: LiveServer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            error = PortTaken if "address already in use" in server.log() else RuntimeError
            raise error(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")


def create_user(server: LiveServer, email: str, role: str, password: str = "correct horse battery") -> None:
    """Create an account in the server's database through the CLI, as an operator would."""
    subprocess.run(
        [sys.executable, "-m", "knowcast", "createuser", "--email", email, "--role", role, "--password", password],
        env=server.env,
        check=True,
        capture_output=True,
    )
