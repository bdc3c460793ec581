"""``RedisLink``: the host of a RedisPOD or RedisTracker is a Redis server.

It runs each operation of the host interface (see the client face) as one
Lua script or one command, so each is atomic. What a POD does on disk has no
counterpart here: there is no unsynced state in a client, every call is on
the server when it returns. So ``sync()``, ``sync_key()``, ``hold()``,
``unhold()`` and ``revert()`` do nothing, ``dirty()`` is always empty and
``mark_dirty(key)`` only checks that the key is present. How durable a
change is depends on the server's AOF settings (see the README).

A link pickles to its URL, name and options; each process opens its own
connection pool on first use (after a fork too).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tastypy.redis.lease import LockOps
from tastypy.redis.tracking import TrackerOps


class RedisLink(LockOps, TrackerOps):
    """One POD or Tracker (``kind``) named ``name`` in the Redis database at ``url``.

    Built by concern: ``connection.Connection`` (clients, calls, errors),
    ``calls.Scripts`` (running the scripts), ``mapping.MappingOps``,
    ``tracking.TrackerOps`` (and ``try_keys()``'s claims),
    ``lease.LockOps`` (the lock and the renewer).
    """

    def close(self) -> None:
        """Free this link's work claims and this process's lock, close its connections."""
        if self._closed:
            return
        self._closed = True
        if self._pid != os.getpid():
            return
        import redis

        try:
            self._free_all()
            self._free_lock()
        except redis.RedisError:
            pass  # unreachable, or the name damaged: the claims and the lock expire after the lease anyway
        self._redis.close()

    def renew(self) -> None:
        """Extend this process's claims and lock (the renewer thread calls it)."""
        if self._closed or self._pid != os.getpid():
            return
        self._renew_claims()
        self._renew_lock()


def _tracker_op(what: str) -> Callable[[RedisLink, Any], None]:
    def run(self: RedisLink, key: Any) -> None:
        self._field(key, what)

    return run


def _should_op(add: bool, count: bool) -> Callable[[RedisLink, Any, bool], bool]:
    def run(self: RedisLink, key: Any, allow_aborted: bool = False) -> bool:
        return self._should(key, allow_aborted, add, count)

    return run


def _counter_op(name: str) -> Callable[[RedisLink], int]:
    def run(self: RedisLink) -> int:
        return self._counter(name)

    return run


_POD_OPS: dict[str, Callable[..., Any]] = {
    "__getitem__": RedisLink._getitem,
    "__setitem__": RedisLink._setitem,
    "__delitem__": RedisLink._delitem,
    "__contains__": RedisLink._contains,
    "__len__": RedisLink._len,
    "pop": RedisLink._pop,
    "popitem": RedisLink._popitem,
    "setdefault": RedisLink._setdefault,
    "update": RedisLink._update,
    "clear": RedisLink._clear,
    "sync": RedisLink._nothing,
    "sync_key": RedisLink._nothing,
    "mark_dirty": RedisLink._mark_dirty,
    "dirty": RedisLink._dirty,
    "hold": RedisLink._nothing,
    "unhold": RedisLink._nothing,
    "revert": RedisLink._nothing,
    "get": RedisLink._get,
    "apply": RedisLink._apply,
    "apply_many": RedisLink._apply_many,
    "keys": RedisLink._keys_at,
    "items": RedisLink._items_at,
    "equals": RedisLink._equals,
    "attr": RedisLink._attr,
    "lock": RedisLink._lock,
    "unlock": RedisLink._unlock,
    "close": lambda self: None,
    "_check_kind": RedisLink._check_kind,
    "_stored_kind": RedisLink._stored_kind,
    "_destroy": RedisLink._destroy,
}

_TRACKER_ONLY: dict[str, Callable[..., Any]] = {
    "add": RedisLink._add,
    "add_if_absent": RedisLink._add_if_absent,
    "add_many": RedisLink._add_many,
    "add_many_if_absent": RedisLink._add_many_if_absent,
    "mark_done": RedisLink._mark_done,
    "begin": RedisLink._begin,
    "fail": RedisLink._fail,
    "give_back": RedisLink._give_back,
    "retry": RedisLink._retry,
    "num_waiting": RedisLink._num_waiting,
    "next_due": RedisLink._next_due,
    "mark_not_done": _tracker_op("not_done"),
    "abort": _tracker_op("abort"),
    "unabort": _tracker_op("unabort"),
    "increment_tries": _tracker_op("inc"),
    "decrement_tries": _tracker_op("dec"),
    "reset_tries": _tracker_op("reset"),
    "done": RedisLink._done,
    "aborted": RedisLink._aborted,
    "tries": RedisLink._tries,
    "should_do": _should_op(False, False),
    "should_do_add": _should_op(True, False),
    "should_try": _should_op(False, True),
    "should_try_add": _should_op(True, True),
    "num_done": _counter_op("done"),
    "num_tried": _counter_op("tried"),
    "num_aborted": _counter_op("aborted"),
    "scan": RedisLink._scan,
    "next": RedisLink._next,
    "drop": RedisLink._drop,
}

_OPS = {**_POD_OPS, **_TRACKER_ONLY}
_TRACKER_OPS = frozenset(_TRACKER_ONLY)

#: Ops on the mapping itself (``.set['k'] = v``, ``.set.pop('k')``).
_TOP = {name: _OPS[name] for name in ("__setitem__", "__delitem__", "pop", "popitem", "setdefault", "update", "clear")}

RedisLink.OPS = _OPS
RedisLink.TRACKER_OPS = _TRACKER_OPS
RedisLink.TOP = _TOP
