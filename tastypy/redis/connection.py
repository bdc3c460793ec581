"""The connection of a RedisPOD or RedisTracker: its clients, calls, and how Redis's refusals reach the user.

``Connection`` is the first layer of ``RedisLink`` (as redis-py builds
``Redis`` from command mixins): one client per process (after a fork too),
a call that rides out a server restart, the eviction-policy check at open,
and every refusal or damage turned into an error naming ``URL#NAME``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

# The faces need redis-py: importing them without it is the ImportError that names the extra.
import redis

from tastypy.errors import IntegrityError
from tastypy.keys import key_from_json
from tastypy.records import DEFAULTS, record_problem
from tastypy.redis import connect

#: Seconds a call keeps trying to reconnect (a server restarting) before its error.
RIDE_OUT = 10.0
#: Keys deleted per command by ``drop()``.
BATCH = 500


class Connection:
    """One POD or Tracker (``kind``) named ``name`` in the Redis database at ``url``."""

    #: The operations ``call`` runs, by name, and those only a tracker has (set by ``RedisLink``).
    OPS: ClassVar[dict[str, Callable[..., Any]]] = {}
    TRACKER_OPS: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, url: str, name: str, kind: str, max_tries: int = 0, lease: float = 30.0,
        allow_eviction: bool = False, prefetch: int = 1,
    ) -> None:
        if type(url) is not str or not url:
            raise TypeError(f"url must be a Redis URL (str), not {url!r}")
        connect.check_name(name)
        if type(max_tries) is not int or max_tries < 0:
            raise ValueError(f"max_tries must be an int >= 0 (0: no limit), not {max_tries!r}")
        if type(prefetch) is not int or prefetch < 1:
            raise ValueError(f"prefetch must be an int >= 1 (keys claimed per round trip), not {prefetch!r}")
        if type(lease) not in (int, float) or not lease > 0:
            raise ValueError(f"lease must be a number of seconds > 0, not {lease!r}")
        self.url, self.name, self.kind = url, name, kind
        self.max_tries, self.lease = max_tries, float(lease)
        self.allow_eviction = bool(allow_eviction)
        self.prefetch = prefetch
        self.where = f"{connect.mask(url)}#{name}"
        self._keys = connect.redis_keys(name)
        parts = dict(zip(connect.PARTS, self._keys))
        self._values, self._meta, self._order = parts["values"], parts["meta"], parts["order"]
        self._lock_key = connect.lock_key(name)
        self._all_keys = [*self._keys, self._lock_key]
        self._lease_ms = max(1, int(self.lease * 1000))
        self._tracker = kind == "tracker"
        self._pid: int | None = None
        self._redis: Any = None
        self._cluster = False
        self._threads = threading.local()
        self._closed = False

    def __reduce__(self) -> Any:
        options = (self.max_tries, self.lease, self.allow_eviction, self.prefetch)
        return type(self), (self.url, self.name, self.kind, *options)

    @property
    def _what(self) -> str:
        return "RedisTracker" if self._tracker else "RedisPOD"

    # -- connection ----------------------------------------------------------

    def _client(self) -> Any:
        if self._pid != os.getpid():
            # A forked child gets its own pool; the parent's sockets stay the parent's.
            made = connect.client(self.url)
            try:
                self._check_policy(made)
            except BaseException:
                made.close()
                raise
            self._redis = made
            self._cluster = connect.is_cluster(made)
            self._forked()
            self._pid = os.getpid()
        return self._redis

    def _forked(self) -> None:
        """A new process uses this link: what a process holds starts empty (subclasses add theirs)."""
        self._threads = threading.local()

    def renew(self) -> None:
        """Extend what this process holds under the name (the renewer thread calls it): nothing here."""

    def _thread_client(self) -> Any:
        """This thread's client for the scripts: one connection of the pool, held.

        Held rather than checked out of the pool for each call (a third of
        a call's time in the client); one per thread, as a held connection
        must not be shared.
        """
        shared = self._client()
        if self._cluster:
            return shared  # a RedisCluster: thread-safe, a pool per node
        pool = shared.connection_pool
        mine = getattr(self._threads, "client", None)
        if mine is None:
            mine = self._threads.client = redis.Redis(connection_pool=pool, single_connection_client=True)
        return mine

    def _check_policy(self, client: Any) -> None:
        """Refuse a server that may evict this name's keys, unless told to accept it."""
        if self.allow_eviction:
            return
        policies = connect.eviction_policies(client)
        if policies is None:
            return  # not allowed to ask (INFO): the docs say what to check
        unsafe = sorted(policies - {connect.SAFE_POLICY})
        if unsafe:
            raise connect.EvictionError(
                f"Redis at {self.where} has maxmemory-policy {', '.join(unsafe)}: when memory runs "
                "short it deletes keys whole, and with them acknowledged writes, whole trackers "
                "or a held lock; set maxmemory-policy noeviction on the server, or pass "
                "allow_eviction=True to accept that risk"
            )

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
        deadline = None
        pause = 0.05
        while True:
            try:
                return self._call_once(name, args, kwargs)
            except redis.AuthenticationError as error:
                raise connect.unreachable(self.where, self.url, error) from None
            except (redis.ConnectionError, redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError) as error:
                # Unreachable, or a Cluster moving a slot or electing a primary
                # (the call was not run): wait it out, as for a restart.
                now = time.monotonic()
                deadline = deadline or now + RIDE_OUT
                if not ride_out or now >= deadline:
                    raise connect.unreachable(self.where, self.url, error) from None
                time.sleep(min(pause, deadline - now))
                pause = min(0.5, pause * 2)

    def _call_once(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._closed:
            raise ValueError(f"{self._what} at {self.where} is closed; create it again to use it")
        method = self.OPS.get(name)
        if method is None or (name in self.TRACKER_OPS and not self._tracker):
            raise AttributeError(f"{self._what} has no operation {name!r}")
        try:
            return method(self, *args, **kwargs)
        except redis.ResponseError as error:
            if "DB index" in str(error):
                raise connect.unreachable(self.where, self.url, error) from None
            refused = self._refused(error)
            if refused is error:
                raise
            raise refused from None
        except redis.TimeoutError as error:
            raise connect.unreachable(self.where, self.url, error) from None

    def _wrong_kind(self, kind: str) -> ValueError:
        other = "RedisTracker" if kind == "tracker" else "RedisPOD"
        return ValueError(
            f"{self.where} holds a {other}; open it as tastypy.{other}, "
            "or drop() it first to reuse the name"
        )

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (the renewer then leaves it alone)."""
        return self._closed

    def destroy(self) -> int:
        """Delete every Redis key of this name (and no other); return how many."""
        gone: int = self.call("_destroy")
        return gone

    # -- what is stored, read back --------------------------------------------------

    def _value(self, ktext: str, text: str) -> Any:
        """The value stored as ``text`` under key text ``ktext``; damage is an IntegrityError naming both."""
        try:
            value = json.loads(text, parse_constant=_no_constant)
            if self._tracker and any(text.count(f'"{field}":') > 1 for field in DEFAULTS):
                json.loads(text, object_pairs_hook=_once)  # which of two fields holds is no one's to say
        except (ValueError, RecursionError) as error:
            raise self._damaged(ktext, text, f"is not one JSON value ({error})") from None
        if self._tracker:
            problem = record_problem(ktext, value)
            if problem is not None:
                raise self._damaged(ktext, text, f"is not a task record: it {problem}")
        return value

    def _key_of(self, ktext: str) -> Any:
        try:
            return key_from_json(json.loads(ktext, parse_constant=_no_constant))
        except (TypeError, ValueError, RecursionError) as error:
            raise IntegrityError(
                f"{self.where}: Redis keys {self._order} / {self._values} hold a key that is not "
                f"a key text tastypy writes: {ktext[:80]!r} ({error}); another client wrote it: "
                "delete it there (ZREM and HDEL)"
            ) from None

    def _damaged(self, ktext: str, text: str | None, why: str) -> IntegrityError:
        if text is None:
            return IntegrityError(
                f"{self.where}: key {ktext} is listed in Redis key {self._order} but has no value in "
                f"{self._values}; another client changed them: delete it there (ZREM {self._order} {ktext})"
            )
        return IntegrityError(
            f"{self.where}: the value of key {ktext} in Redis key {self._values} {why}: "
            f"{text[:80]!r}; another client wrote it: correct it, or delete it (HDEL {self._values} {ktext})"
        )

    def _key_types(self) -> tuple[list[str], str | None]:
        """The Redis type of each of this name's keys, and its stored kind: one round trip."""
        with self._client().pipeline(transaction=False) as pipe:
            for rkey in self._all_keys:
                pipe.type(rkey)
            pipe.hget(self._meta, "kind")
            *types, kind = pipe.execute()
        return types, kind

    def _wrong_types(self, types: list[str]) -> IntegrityError | None:
        wrong = [
            f"{rkey} is a {found}, not a {wanted}"
            for rkey, found, wanted in zip(self._all_keys, types, connect.TYPES)
            if found not in ("none", wanted)
        ]
        if not wrong:
            return None
        return IntegrityError(
            f"{self.where}: {'; '.join(wrong)}: another client wrote there; "
            "delete that key, or use another name"
        )

    def _no_meta(self) -> IntegrityError:
        return IntegrityError(
            f"{self.where}: Redis key {self._meta} (kind, insertion counter, tracker counters) is "
            f"gone while {self._values} holds values: it was deleted or evicted, and new keys "
            "would sort among old ones and counters restart at 0; restore it from a backup, "
            "or export the data (tastypy export), drop() the name and import it again"
        )

    def _refused(self, error: Exception) -> Exception:
        """The error for a script's refusal or failure: named, never a raw Lua or WRONGTYPE error."""
        text = str(error)
        if text.startswith("TASTYPY-KIND"):
            return self._wrong_kind(text.rsplit(maxsplit=1)[-1])
        if text.startswith("TASTYPY-NOMETA"):
            return self._no_meta()
        if text.startswith("TASTYPY-DAMAGED"):
            raw = text.encode()[len("TASTYPY-DAMAGED ") :]
            size, _, rest = raw.partition(b" ")
            ktext = rest[: int(size)].decode()
            stored = self._client().hget(self._values, ktext)
            reason = "is not a task record tastypy can read"
            if stored is not None:
                try:
                    self._value(ktext, stored)
                except IntegrityError as named:
                    return named
            return self._damaged(ktext, stored, reason)
        if text.startswith("WRONGTYPE"):
            return self._wrong_types(self._key_types()[0]) or error
        if isinstance(error, redis.exceptions.OutOfMemoryError) or "used memory > 'maxmemory'" in text:
            return redis.exceptions.OutOfMemoryError(
                f"Redis at {self.where} is at its maxmemory: this write was refused and changed "
                f"nothing ({text}); reads and deletions still work: free memory or raise maxmemory"
            )
        if _LUA_ERROR.match(text):
            return IntegrityError(
                f"{self.where}: a tastypy script failed on what this name's Redis keys hold ({text}); "
                "another client may have written there"
            )
        return error

    # -- the name as a whole ---------------------------------------------------------

    def _check_kind(self) -> None:
        """At open: refuse the other kind, foreign Redis types, values without their meta hash."""
        types, kind = self._key_types()
        wrong = self._wrong_types(types)
        if wrong is not None:
            raise wrong
        if kind is None and types[0] != "none":
            raise self._no_meta()
        if kind is not None and kind != self.kind:
            raise self._wrong_kind(kind)

    def _stored_kind(self) -> str | None:
        kind: str | None = self._client().hget(self._meta, "kind")
        return kind

    def _destroy(self) -> int:
        client = self._client()
        gone = 0
        batch = []
        for rkey in client.scan_iter(match=connect.pattern(self.name), count=BATCH):
            batch.append(rkey)
            if len(batch) >= BATCH:
                gone += client.delete(*batch)
                batch = []
        if batch:
            gone += client.delete(*batch)
        return gone


#: A Lua runtime error in a script (where another client's data can lead one).
_LUA_ERROR = re.compile(r"(ERR )?user_(script|function):\d+: ")


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a field appears twice in one object")
    return found


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON data tastypy writes")
