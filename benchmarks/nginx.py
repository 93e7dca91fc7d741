"""A real nginx in front of several `knowcast serve` processes, configured from docs/operations.md.

The site block documented for operators (between ``<!-- nginx-site -->`` and ``<!-- /nginx-site -->`` in
docs/operations.md) is what runs here: only its ``listen`` port, its upstream's ``server`` lines and the
static files' ``alias`` are replaced by this run's ports and this checkout's built files (and the static
location logs its answers to ``static.log``, so that the benchmark can count them), and it is wrapped in a
main configuration that keeps every file nginx writes (pid, logs, temporary bodies) under a folder of the
run's own. Used by `knowcast bench join --workers N` and
by tests/realtime/test_join_bench.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from knowcast.web.templating import STATIC_DIR

STATIC_LOG = "static.log"  # one line per answer of the static location, in nginx's combined format
DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MAIN = """\
worker_processes {workers};
worker_rlimit_nofile {files};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {connections}; multi_accept on; }}
http {{
    include {mime_types};
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{site}
}}
"""


def static_answers(prefix: Path, status: int = 200) -> int:
    """How many static files nginx answered with ``status`` (from the run's static.log)."""
    log = prefix / STATIC_LOG
    if not log.exists():
        return 0
    marker = f'" {status} '
    with log.open(encoding="latin-1") as lines:
        return sum(1 for line in lines if marker in line)


def available() -> bool:
    return os.path.exists(NGINX)


def site_block() -> str:
    """The documented site configuration, as the operator copies it."""
    match = re.search(r"<!-- nginx-site -->\s*```nginx\n(.*?)```\s*<!-- /nginx-site -->", DOC.read_text(), re.S)
    if match is None:
        raise RuntimeError("docs/operations.md has no nginx site block between <!-- nginx-site --> markers")
    return match.group(1)


def configure(prefix: Path, listen: int, upstreams: list[int], workers: int = 2, files: int = 20_000) -> Path:
    site = site_block()
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=0;\n" for port in upstreams)
    site, count = re.subn(r"(upstream knowcast \{\n)(?:\s*server [^\n]*\n)+", lambda m: m.group(1) + servers, site)
    if count != 1:
        raise RuntimeError("the documented nginx site has no `upstream knowcast` block with server lines")
    site = re.sub(r"listen \d+((?: [a-z_]+)*);", rf"listen 127.0.0.1:{listen}\1;", site)
    site, count = re.subn(
        r"(location /static/dist/ \{\n)(\s*)alias [^;\n]+;",
        lambda m: (
            f"{m.group(1)}{m.group(2)}alias {STATIC_DIR / 'dist'}/;\n{m.group(2)}access_log {prefix / STATIC_LOG};"
        ),
        site,
    )
    if count != 1:
        raise RuntimeError("the documented nginx site has no `location /static/dist/` block with an alias")
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    mime = "/etc/nginx/mime.types"
    text = MAIN.format(
        workers=workers,
        files=files,
        connections=max(1024, files - 512),  # a connection is one open file, to the viewer or to Knowcast
        prefix=prefix,
        mime_types=mime if os.path.exists(mime) else prefix / "mime.types",
        site="\n".join("    " + line if line else line for line in site.splitlines()),
    )
    if not os.path.exists(mime):
        (prefix / "mime.types").write_text("types { text/html html; }\n")
    path = prefix / "nginx.conf"
    path.write_text(text)
    return path


@contextlib.contextmanager
def running(
    prefix: Path, listen: int, upstreams: list[int], workers: int = 2, preexec: Callable[[], None] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """nginx in the foreground, stopped on the way out (``preexec``: run in its process before it starts)."""
    config = configure(prefix, listen, upstreams, workers)
    check = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx refused the configuration:\n{check.stderr}")
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(prefix / "stderr.log").open("wb"),
        preexec_fn=preexec or _raise_fd_limit,
    )
    try:
        _wait_listening(listen, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _raise_fd_limit() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError("nginx did not start listening")
