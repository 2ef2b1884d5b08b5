"""A real ``redis-server`` on a free loopback port, in a temporary directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

READY = b"Ready to accept connections"


def free_port() -> int:
    """A loopback port nothing listens on (taken and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """``redis-server`` started in ``directory``; ``url`` addresses it, ``stop()`` ends it.

    With ``persist``, its data survives ``stop()`` and ``start()`` (an fsynced append-only file).
    """

    def __init__(self, directory: Path, *, persist: bool = False) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            if os.environ.get("CRAWLER_TESTS_REQUIRE_REDIS"):
                pytest.fail("redis-server is not installed (apt-get install redis-server)")
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [
            executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--save", "", "--daemonize", "no", "--loglevel", "notice",
            # persist: every write reaches the append-only file before the client hears back
            "--appendonly", "yes" if persist else "no", "--appendfsync", "always",
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self._drain: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        """Start the server (again) on the same port and wait until it accepts connections."""
        self.process = subprocess.Popen(
            self._command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert self.process.stdout is not None
        output = b""
        for line in self.process.stdout:  # blocks until the server says it is ready
            output += line
            if READY in line:  # from now on, drain its log so the server never blocks on it
                self._drain = threading.Thread(target=self.process.stdout.read, daemon=True)
                self._drain.start()
                return
        raise RuntimeError(f"redis-server did not start:\n{output.decode(errors='replace')}")

    def stop(self) -> None:
        """Stop the server at once (SIGKILL: no goodbye to its clients)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self._drain is not None:
            self._drain.join(10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
