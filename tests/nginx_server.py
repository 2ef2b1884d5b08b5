"""A real ``nginx`` (Debian's ``nginx-light``) serving static directories on free loopback ports.

Each served root gets a ``server`` block of its own on its own port, with the caller's extra
configuration (``location`` blocks: redirects, say) inside it. Redirects are relative
(``absolute_redirect off``), gzip is off, and the pid file, logs and temporary files live in
the server's directory, so no root privileges or system paths are needed.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from tests.redis_server import free_port

if TYPE_CHECKING:
    from pathlib import Path

EXECUTABLE = "/usr/sbin/nginx"
REQUIRE = "CRAWLER_TESTS_REQUIRE_NGINX"
MISSING = "nginx is not installed (apt-get install nginx-light)"

TYPES = """
    types {
        text/html html htm;
        text/css css;
        text/xml xml;
        text/plain txt;
        application/javascript js;
        image/png png;
        image/svg+xml svg;
        application/gzip gz;
    }
    default_type application/octet-stream;
"""


def nginx_executable() -> str:
    """nginx's path; skips the test without it, or fails it under ``CRAWLER_TESTS_REQUIRE_NGINX``."""
    executable = EXECUTABLE if os.access(EXECUTABLE, os.X_OK) else shutil.which("nginx")
    if executable is None:
        if os.environ.get(REQUIRE):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return executable


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once ``port`` accepts a connection; fail if nginx exits or 30 s pass first."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.02)  # polling for readiness, with a deadline: nginx logs nothing then
            continue
        return
    raise RuntimeError(f"nginx never listened on {port}:\n{log.read_text()}")


class NginxServer:
    """nginx serving ``roots`` (one port each), configured in ``directory``; ``stop()`` ends it.

    The ports are chosen at construction, so pages can be generated with their absolute URLs
    (:meth:`url`) before :meth:`start` is called with each server's extra configuration.
    """

    def __init__(self, directory: Path, roots: list[Path], *, workers: int = 1) -> None:
        self.executable = nginx_executable()
        self.directory = directory
        self.roots = roots
        self.ports = [free_port() for _ in roots]
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, index: int = 0, host: str = "127.0.0.1") -> str:
        """The base URL (no trailing slash) of the ``index``-th root, by ``host``."""
        return f"http://{host}:{self.ports[index]}"

    def config(self, extra: list[str]) -> str:
        user = pwd.getpwuid(os.getuid()).pw_name  # workers read the files as the caller
        group = grp.getgrgid(os.getgid()).gr_name
        temp = self.directory / "temp"
        servers = "".join(
            f"""
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
{more}
    }}
"""
            for port, root, more in zip(self.ports, self.roots, extra, strict=True)
        )
        return f"""
{"user " + user + " " + group + ";" if os.getuid() == 0 else ""}
worker_processes {self.workers};
daemon off;
pid {self.directory}/nginx.pid;
error_log {self.directory}/error.log warn;
events {{ worker_connections 4096; }}
http {{
{TYPES}
    access_log off;
    gzip off;
    sendfile on;
    keepalive_requests 100000;
    absolute_redirect off;
    server_tokens off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{servers}
}}
"""

    def start(self, extra: list[str] | None = None, *, cpus: str | None = None) -> None:
        """Write the configuration (``extra`` inside each server block) and start nginx."""
        (self.directory / "temp").mkdir(parents=True, exist_ok=True)
        conf = self.directory / "nginx.conf"
        conf.write_text(self.config(extra or [""] * len(self.roots)))
        log = self.directory / "error.log"
        command = [self.executable, "-p", str(self.directory), "-e", str(log), "-c", str(conf)]
        if cpus is not None and shutil.which("taskset"):
            command = ["taskset", "-c", cpus, *command]
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=stderr, cwd=self.directory
            )
        for port in self.ports:
            wait_listening(port, self.process, log)

    def stop(self) -> None:
        """Stop nginx (SIGQUIT would wait for keep-alive clients: SIGTERM ends it at once)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
