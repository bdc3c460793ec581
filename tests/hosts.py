"""One behaviour test, three hosts: a folder, a shared server, Redis (the ``host`` fixture)."""

from __future__ import annotations

import ast
import itertools

import pytest
from helpers import fresh_items, run_py
from test_shared_support import LEASE, _session_servers

import tastypy

#: A small sync_at, so that automatic syncs run while other threads write.
SYNC_AT = 37


class Hosts:
    """Makes PODs and Trackers on one host, and reads them back in a fresh process."""

    def __init__(self, kind: str, where) -> None:
        self.kind, self.where = kind, where
        self.made: list = []
        self._names = itertools.count()

    def _make(self, tracker: bool, **options):
        name = f"{'t' if tracker else 'p'}{next(self._names)}"
        if self.kind == "redis":
            cls = tastypy.RedisTracker if tracker else tastypy.RedisPOD
            made = cls(self.where, name, lease=LEASE, **options)
        else:
            if self.kind == "local":
                cls = tastypy.Tracker if tracker else tastypy.POD
            else:
                cls = tastypy.SharedTracker if tracker else tastypy.SharedPOD
            made = cls(self.where / name, sync_at=SYNC_AT, **options)
        self.made.append(made)
        return made

    def pod(self, **options):
        return self._make(False, **options)

    def tracker(self, max_tries: int = 0, **options):
        return self._make(True, max_tries=max_tries, **options)

    def fresh(self, made) -> dict:
        """Close ``made``, then what a brand-new process reads from where it lived."""
        if self.kind == "redis":
            made.close()
            result = run_py(
                """
                import sys, tastypy
                pod = tastypy.RedisPOD(sys.argv[1], sys.argv[2])
                print(repr([(k, tastypy.unwrap(v)) for k, v in pod.items()]))
                pod.close()
                """,
                self.where,
                made.name,
            )
            assert result.returncode == 0, result.stderr
            return dict(ast.literal_eval(result.stdout))
        path = made.path
        made.close()
        return dict(fresh_items(path))

    def close(self) -> None:
        for made in self.made:
            made.close()


@pytest.fixture(name="host", params=["local", "shared", "redis"])
def host_fixture(request, tmp_path):
    where = tmp_path
    if request.param == "redis":
        where = request.getfixturevalue("redis_url")
        _session_servers.add(request.getfixturevalue("redis_server").process.pid)
    hosts = Hosts(request.param, where)
    yield hosts
    hosts.close()


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
