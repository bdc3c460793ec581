"""A real ``redis-server`` for the tests: on a unix socket in a temporary folder, no TCP port.

The tests start their own server (Debian's package ``redis-server``) and stop
it; where none is installed they skip with the install command, except under
``CI=true``, where a missing server is a failure (CI must test Redis).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

INSTALL = "apt-get install redis-server"
#: Seconds a server may take to start or to stop.
START_TIMEOUT = 10


def need_redis_server() -> str:
    """The path of ``redis-server``; skip (fail under CI) where there is none."""
    path = shutil.which("redis-server")
    if path is None:
        message = f"redis-server is not installed: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class RedisServer:
    """One ``redis-server`` process in ``folder``, reached by ``url``."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.extra = extra
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                need_redis_server(), "--port", "0", "--unixsocket", str(self.socket),
                "--unixsocketperm", "700", "--dir", str(self.folder), "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.folder / "redis.log"),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start in {self.folder}: {log}")
            time.sleep(0.02)
        return self

    def _answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(1)
            try:
                sock.connect(str(self.socket))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

    def stop(self) -> None:
        """SIGTERM (the server writes its AOF if it has one), SIGKILL after a while."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(START_TIMEOUT)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: what a power loss leaves is what the AOF had."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(START_TIMEOUT)
            self.process = None
