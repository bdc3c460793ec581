"""One behaviour test, three hosts: a folder, a shared server, Redis.

The ``host`` fixture makes the sync faces (``local``, ``shared``,
``redis``); ``any_host`` makes those and the async faces of the same hosts
(``aio-local``, ``aio-shared``, ``aio-redis``), driven through
``async_adapter.Synced`` so that one sync test body runs on all six. A test
that relies on what only the sync faces do (a value read is a live proxy,
``.set``, one object used by many threads) takes ``host``.
"""

from __future__ import annotations

import ast
import contextlib
import itertools

import pytest
from async_adapter import Loop, open_on
from helpers import fresh_items, run_py
from test_shared_support import LEASE, _session_servers

import tastypy

#: A small sync_at, so that automatic syncs run while other threads write.
SYNC_AT = 37

SYNC_KINDS = ["local", "shared", "redis"]
AIO_KINDS = [f"aio-{kind}" for kind in SYNC_KINDS]
#: Every face: the sync ones, then the async ones on the same hosts.
KINDS = SYNC_KINDS + AIO_KINDS

_CLASSES = {
    "local": (tastypy.POD, tastypy.Tracker),
    "shared": (tastypy.SharedPOD, tastypy.SharedTracker),
    "redis": (tastypy.RedisPOD, tastypy.RedisTracker),
    "aio-local": (tastypy.AsyncPOD, tastypy.AsyncTracker),
    "aio-shared": (tastypy.AsyncSharedPOD, tastypy.AsyncSharedTracker),
    "aio-redis": (tastypy.AsyncRedisPOD, tastypy.AsyncRedisTracker),
}


class Hosts:
    """Makes PODs and Trackers on one host, and reads them back in a fresh process."""

    def __init__(self, kind: str, where) -> None:
        self.kind, self.where = kind, where
        #: The host without its ``aio-`` prefix: where the data lives.
        self.base = kind.removeprefix("aio-")
        #: Whether the objects are async faces (driven through the adapter).
        self.is_async = kind != self.base
        self.made: list = []
        self._names = itertools.count()
        self._loop = Loop() if self.is_async else None

    def _make(self, tracker: bool, **options):
        name = f"{'t' if tracker else 'p'}{next(self._names)}"
        cls = _CLASSES[self.kind][tracker]
        if self.base == "redis":
            made = cls(self.where, name, lease=LEASE, **options)
        else:
            made = cls(self.where / name, sync_at=SYNC_AT, **options)
        if self._loop is not None:
            made = open_on(self._loop, made)
        self.made.append(made)
        return made

    def pod(self, **options):
        return self._make(False, **options)

    def tracker(self, max_tries: int = 0, **options):
        return self._make(True, max_tries=max_tries, **options)

    def run(self, coro):
        """Run ``coro`` on the loop of the async objects (an ``aio-`` kind only)."""
        assert self._loop is not None, f"{self.kind} has no event loop"
        return self._loop.run(coro)

    def changes(self, made):
        """A context whose recorder applies nested changes as each face does: ``c['k']['n'] += 1``.

        The object itself on a local face (its values are live proxies),
        ``.set`` on a shared or Redis one (each change applied at once),
        ``changes()`` on an async one (applied in one step at the block's end).
        """
        if self.is_async:
            return made.changes()
        return contextlib.nullcontext(made if self.kind == "local" else made.set)

    def fresh(self, made) -> dict:
        """Close ``made``, then what a brand-new process reads from where it lived."""
        if self.base == "redis":
            made.close()
            result = run_py(
                """
                import sys, tastypy
                cls = tastypy.RedisTracker if sys.argv[3] else tastypy.RedisPOD
                pod = cls(sys.argv[1], sys.argv[2])
                print(repr([(k, tastypy.unwrap(v)) for k, v in pod.items()]))
                pod.close()
                """,
                self.where,
                made.name,
                "1" if hasattr(made, "num_done") else "",
            )
            assert result.returncode == 0, result.stderr
            return dict(ast.literal_eval(result.stdout))
        path = made.path
        made.close()
        return dict(fresh_items(path))

    def close(self) -> None:
        try:
            for made in self.made:
                made.close()
        finally:
            if self._loop is not None:
                self._loop.stop()


def _hosts(request, tmp_path):
    where = tmp_path
    if request.param.endswith("redis"):
        where = request.getfixturevalue("redis_url")
        _session_servers.add(request.getfixturevalue("redis_server").process.pid)
    hosts = Hosts(request.param, where)
    yield hosts
    hosts.close()


@pytest.fixture(name="host", params=SYNC_KINDS)
def host_fixture(request, tmp_path):
    """A maker of sync PODs and Trackers on each host."""
    yield from _hosts(request, tmp_path)


@pytest.fixture(name="any_host", params=KINDS)
def any_host_fixture(request, tmp_path):
    """A maker of PODs and Trackers on each host, sync and async faces."""
    yield from _hosts(request, tmp_path)


def recount(tracker) -> tuple:
    """(done, tried, aborted) counted from the records, to hold the counters to."""
    records = [value for _, value in tracker.items()]
    return (
        sum(r["_done"] for r in records),
        sum(r["_tries"] > 0 for r in records),
        sum(r["_aborted"] for r in records),
    )


def counts(tracker) -> tuple:
    """(done, tried, aborted) as the tracker's counters say."""
    return tracker.num_done(), tracker.num_tried(), tracker.num_aborted()


@pytest.fixture(name="aio_host", params=AIO_KINDS)
def aio_host_fixture(request, tmp_path):
    """A maker of async PODs and Trackers on each host (driven through the adapter)."""
    yield from _hosts(request, tmp_path)
