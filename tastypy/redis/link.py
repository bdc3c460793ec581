"""``RedisLink``: the host of a RedisPOD or RedisTracker is a Redis server.

It runs each operation of the host interface (see the client face) as one
Lua script or one command, so each is atomic. What a POD does on disk has no
counterpart here: there is no unsynced state in a client, every call is on
the server when it returns. So ``sync()``, ``sync_key()``, ``hold()``,
``unhold()`` and ``revert()`` do nothing, ``dirty()`` is always empty and
``mark_dirty(key)`` only checks that the key is present. How durable a
change is depends on the server's AOF settings (see the README).

Each operation is a plan (``plan.py``) written once in the mixins;
``RedisLink`` runs them on redis-py's blocking client, and
``tastypy.aio.redis_link.AsyncRedisLink`` on ``redis.asyncio``. A link
pickles to its URL, name and options; each process opens its own
connection pool on first use (after a fork too).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from tastypy.operations import OPERATIONS
from tastypy.redis import connect, plan
from tastypy.redis.connection import Patience
from tastypy.redis.lease import LockOps, renewer
from tastypy.redis.tracking import TrackerOps

#: What a Redis link runs beside the operations a client may call: at open,
#: ``URL#NAME`` opened as what it holds, ``drop()``.
LINK_OPS = ("_check_kind", "_stored_kind", "_destroy")


def handler_name(name: str) -> str:
    """The plan method of operation ``name``: ``_`` and the name without dunders."""
    return "_" + name.strip("_")


class RedisOps(LockOps, TrackerOps):
    """Every operation of a RedisPOD or RedisTracker, as plans; both links run these.

    Built by concern: ``connection.Connection`` (the name, errors),
    ``calls.Scripts`` (running the scripts), ``mapping.MappingOps``,
    ``tracking.TrackerOps`` (and ``try_keys()``'s claims),
    ``lease.LockOps`` (the lock).
    """

    def _renew(self) -> plan.Plan[None]:
        """Extend this process's claims and lock."""
        yield from self._renew_claims()
        yield from self._renew_lock()

    def _closing(self) -> plan.Plan[None]:
        """Free this link's work claims and this process's lock."""
        yield from self._free_all()
        yield from self._free_lock()


def _table(cls: type[RedisOps]) -> dict[str, Callable[..., Any]]:
    """Name -> plan method, from ``tastypy.operations`` (an operation without one fails here, at import)."""
    ops = {operation.name: getattr(cls, handler_name(operation.name)) for operation in OPERATIONS}
    return {**ops, **{name: getattr(cls, name) for name in LINK_OPS}}


RedisOps.OPS = _table(RedisOps)
RedisOps.TRACKER_OPS = frozenset(operation.name for operation in OPERATIONS if operation.tracker)
#: Ops on the mapping itself (``.set['k'] = v``, ``.set.pop('k')``): the dict's mutators.
RedisOps.TOP = {
    name: RedisOps.OPS[name]
    for name in ("__setitem__", "__delitem__", "pop", "popitem", "setdefault", "update", "clear")
}


class RedisLink(RedisOps):
    """One POD or Tracker (``kind``) named ``name`` in the Redis database at ``url``, over blocking calls.

    One client per process (after a fork too), one held connection per
    thread, calls that ride out a server restart, and the renewer thread
    (``lease.renewer``) for its claims and lock.
    """

    _pid: int | None = None
    _redis: Any = None

    def _forked(self) -> None:
        super()._forked()
        self._threads = threading.local()

    def _watch(self) -> None:
        renewer.watch(self)

    def _client(self) -> Any:
        if self._pid != os.getpid():
            # A forked child gets its own pool; the parent's sockets stay the parent's.
            made = connect.client(self.url)
            try:
                self._cluster = connect.is_cluster(made)
                plan.run(self._policy(), made)
            except BaseException:
                made.close()
                raise
            self._redis = made
            self._forked()
            self._pid = os.getpid()
        return self._redis

    def _thread_client(self) -> Any:
        """This thread's client: one connection of the pool, held.

        Held rather than checked out of the pool for each call (a third of
        a call's time in the client); one per thread, as a held connection
        must not be shared.
        """
        shared = self._client()
        if self._cluster:
            return shared  # a RedisCluster: thread-safe, a pool per node
        mine = getattr(self._threads, "client", None)
        if mine is None:
            pool = shared.connection_pool
            mine = self._threads.client = redis.Redis(connection_pool=pool, single_connection_client=True)
        return mine

    def open(self) -> None:
        """Reach the server now, and refuse a name that holds the other kind."""
        self._call("_check_kind", (), {}, ride_out=False)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run operation ``name`` on the server, raising the POD's errors.

        While the server cannot be reached (a restart), the call tries again
        for up to ``RIDE_OUT`` seconds, then raises ``ConnectionError``
        naming the URL. A call whose reply was lost when the server went
        away may have been applied: trying it again may apply it twice.
        """
        return self._call(name, args, kwargs, ride_out=True)

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], ride_out: bool) -> Any:
        patience = Patience(self.where, self.url, ride_out)
        while True:
            self._check_open()
            try:
                try:
                    client = self._thread_client()
                except (redis.ResponseError, redis.TimeoutError) as error:  # a bad database number, a mute server
                    raise connect.unreachable(self.where, self.url, error) from None
                return plan.run(self._operation(name, args, kwargs), client)
            except Patience.ERRORS as error:
                time.sleep(patience.wait(error))

    def destroy(self) -> int:
        """Delete every Redis key of this name (and no other); return how many."""
        gone: int = self.call("_destroy")
        return gone

    def close(self) -> None:
        """Free this link's work claims and this process's lock, close its connections."""
        if self._closed:
            return
        self._closed = True
        if self._pid != os.getpid():
            return
        try:
            plan.run(self._closing(), self._thread_client())
        except redis.RedisError:
            pass  # unreachable, or the name damaged: the claims and the lock expire after the lease anyway
        self._redis.close()

    def renew(self) -> None:
        """Extend this process's claims and lock (the renewer thread calls it)."""
        if self._closed or self._pid != os.getpid():
            return
        plan.run(self._renew(), self._thread_client())
