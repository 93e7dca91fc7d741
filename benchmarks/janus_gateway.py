"""A Janus gateway of our own for the tests and the benchmarks: its config folder written from scratch (the HTTP
transport on a free port of 127.0.0.1, only the videoroom plugin, signed tokens, ICE on the loopback interface),
started with ``janus -C <folder>/janus.jcfg -F <folder>`` and stopped by its pid. Never the system's Janus or
its /etc/janus.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from knowcast.media.janus import JanusClient, JanusRefused, core_token

LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")


def janus_jcfg(folder: Path, token_secret: str) -> str:
    """The core config: signed tokens; the videoroom plugin and the HTTP transport only; host candidates on
    the loopback interface (ICE over loopback, as the tests run it)."""

    def others(kind: str, keep: str) -> str:
        names = sorted(p.name for p in (LIBS / kind).glob("*.so") if p.name != keep)
        return ",".join(names)

    return f"""general: {{
	configs_folder = "{folder}"
	plugins_folder = "{LIBS}/plugins"
	transports_folder = "{LIBS}/transports"
	events_folder = "{LIBS}/events"
	loggers_folder = "{LIBS}/loggers"
	log_to_stdout = true
	debug_level = 4
	token_auth = true
	token_auth_secret = "{token_secret}"
	session_timeout = 60
}}
plugins: {{ disable = "{others("plugins", "libjanus_videoroom.so")}" }}
transports: {{ disable = "{others("transports", "libjanus_http.so")}" }}
events: {{ broadcast = false }}
loggers: {{ disable = "{others("loggers", "")}" }}
media: {{ }}
nat: {{ ice_enforce_list = "lo" }}
"""


def http_jcfg(port: int) -> str:
    return f"""general: {{ json = "compact" base_path = "/janus" http = true port = {port} ip = "127.0.0.1" }}
admin: {{ admin_http = false }}
cors: {{ }}
"""


def videoroom_jcfg(admin_key: str) -> str:
    return f'general: {{ admin_key = "{admin_key}" }}\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class JanusServer:
    url: str
    token_secret: str
    admin_key: str
    binary: str
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "janus.log"

    def settings(self) -> dict[str, str]:
        """The Knowcast settings of scaled mode with this Janus (``Settings.model_copy(update=...)``)."""
        return {"janus_url": self.url, "janus_token_secret": self.token_secret, "janus_admin_key": self.admin_key}

    def env(self) -> dict[str, str]:
        """The same settings as a Knowcast process's environment."""
        return {f"KNOWCAST_{name.upper()}": value for name, value in self.settings().items()}

    def start(self) -> None:
        """Start Janus (again, after ``stop``: the same config, port and secrets) and wait until it answers."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["nice", "-n", "19", self.binary, "-C", str(self.folder / "janus.jcfg"), "-F", str(self.folder)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_up(self)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@contextlib.contextmanager
def janus_server(binary: str, folder: Path) -> Iterator[JanusServer]:
    folder.mkdir(parents=True, exist_ok=True)
    secret, admin_key, port = secrets.token_urlsafe(24), secrets.token_urlsafe(12), free_port()
    (folder / "janus.jcfg").write_text(janus_jcfg(folder, secret))
    (folder / "janus.transport.http.jcfg").write_text(http_jcfg(port))
    (folder / "janus.plugin.videoroom.jcfg").write_text(videoroom_jcfg(admin_key))
    server = JanusServer(f"http://127.0.0.1:{port}/janus", secret, admin_key, binary, folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def participants(server: JanusServer, janus_room: int) -> list[dict[str, Any]] | None:
    """Who is in the videoroom, asked of Janus itself; None when there is no such videoroom."""
    return await _ask(server, janus_room)


async def program_feed(server: JanusServer, janus_room: int) -> int | None:
    """The program publisher's feed id in the videoroom (Knowcast's publisher is named "program")."""
    inside = await participants(server, janus_room) or []
    return next((int(p["id"]) for p in inside if p.get("display") == "program" and p.get("publisher")), None)


async def _ask(server: JanusServer, janus_room: int) -> list[dict[str, Any]] | None:
    client = JanusClient(server.url, lambda: core_token(server.token_secret, 60))
    session = await client.session()
    try:
        answer = await (await session.attach()).message({"request": "listparticipants", "room": janus_room})
        return list(answer.data["participants"])
    except JanusRefused as exc:
        if exc.janus_code != 426:  # no such room
            raise
        return None
    finally:
        await session.destroy()
        await client.close()


def _wait_up(server: JanusServer) -> None:
    assert server.process is not None
    for _ in range(150):
        if server.process.poll() is not None:
            raise RuntimeError(f"janus exited ({server.process.returncode}): {server.log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/info", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"janus did not answer at {server.url}: {server.log.read_text()[-2000:]}")
