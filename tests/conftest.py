"""Shared fixtures: fresh folders, hypothesis profiles, a clean registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from redis_server import RedisServer

# CI explores the same examples on every run, so that a red run is
# reproducible and a landing never depends on luck; locally each run explores
# new ones (and keeps what it found in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole test session (unix socket, no TCP port)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, its database emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A path for a POD folder that does not exist yet."""
    return tmp_path / "data.pod"


@pytest.fixture(autouse=True)
def _close_left_open():
    """Close every folder a test left open, so tests never share state."""
    yield
    from tastypy import pod

    for opened in list(pod._registry.values()):
        opened._users = 1
        opened.close()
