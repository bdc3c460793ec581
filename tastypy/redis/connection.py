"""What a Redis link knows of its name, and how Redis's refusals reach the user.

``Connection`` is the first layer of the plans that ``RedisLink`` (blocking)
and ``AsyncRedisLink`` (asyncio) both run (as redis-py builds ``Redis``
from command mixins): the name's keys, one operation's plan by name, the
eviction-policy check at open, how long a call rides out a server restart
(``Patience``), and every refusal or damage turned into an error naming
``URL#NAME``. The links add the clients and the waiting.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar

# The faces need redis-py: importing them without it is the ImportError that names the extra.
import redis

from tastypy.errors import IntegrityError
from tastypy.keys import key_from_json
from tastypy.records import DEFAULTS, record_problem
from tastypy.redis import connect, plan
from tastypy.redis.plan import Plan

#: Seconds a call keeps trying to reconnect (a server restarting) before its error.
RIDE_OUT = 10.0
#: Keys deleted per command by ``drop()``.
BATCH = 500


class Connection:
    """One POD or Tracker (``kind``) named ``name`` in the Redis database at ``url``."""

    #: The operations a link runs, by name, and those only a tracker has (set in ``link.py``).
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
        self._rkeys = connect.redis_keys(name)
        parts = dict(zip(connect.PARTS, self._rkeys))
        self._values, self._meta, self._order = parts["values"], parts["meta"], parts["order"]
        self._lock_key = connect.lock_key(name)
        self._all_keys = [*self._rkeys, self._lock_key]
        self._lease_ms = max(1, int(self.lease * 1000))
        self._tracker = kind == "tracker"
        self._cluster = False
        self._closed = False
        self._forked()

    def __reduce__(self) -> Any:
        options = (self.max_tries, self.lease, self.allow_eviction, self.prefetch)
        return type(self), (self.url, self.name, self.kind, *options)

    @property
    def _what(self) -> str:
        return "RedisTracker" if self._tracker else "RedisPOD"

    # -- running an operation --------------------------------------------------

    def _forked(self) -> None:
        """A new process (or a new link) uses this: what it holds starts empty (subclasses add theirs)."""

    def _watch(self) -> None:
        """This link holds a claim or a lock now: have it renewed (each link says how)."""

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self._what} at {self.where} is closed; create it again to use it")

    def _policy(self) -> Plan[None]:
        """Refuse a server that may evict this name's keys, unless told to accept it."""
        if self.allow_eviction:
            return
        policies = yield from connect.eviction_policies(self._cluster)
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

    def _operation(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Plan[Any]:
        """The plan of operation ``name``, raising the POD's errors (never a raw Redis one)."""
        method = self.OPS.get(name)
        if method is None or (name in self.TRACKER_OPS and not self._tracker):
            raise AttributeError(f"{self._what} has no operation {name!r}")
        try:
            return (yield from plan.follow(method(self, *args, **kwargs)))
        except redis.ResponseError as error:
            if "DB index" in str(error):
                raise connect.unreachable(self.where, self.url, error) from None
            refused = yield from self._refused(error)
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

    def _key_types(self) -> Plan[tuple[list[str], str | None]]:
        """The Redis type of each of this name's keys, and its stored kind: one round trip."""
        calls = [plan.call("type", rkey) for rkey in self._all_keys]
        *found, kind = yield plan.Pipeline((*calls, plan.call("hget", self._meta, "kind")))
        return found, kind

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

    def _refused(self, error: Exception) -> Plan[Exception]:
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
            stored = yield plan.call("hget", self._values, ktext)
            reason = "is not a task record tastypy can read"
            if stored is not None:
                try:
                    self._value(ktext, stored)
                except IntegrityError as named:
                    return named
            return self._damaged(ktext, stored, reason)
        if text.startswith("WRONGTYPE"):
            return self._wrong_types((yield from self._key_types())[0]) or error
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

    def _check_kind(self) -> Plan[None]:
        """At open: refuse the other kind, foreign Redis types, values without their meta hash."""
        found, kind = yield from self._key_types()
        wrong = self._wrong_types(found)
        if wrong is not None:
            raise wrong
        if kind is None and found[0] != "none":
            raise self._no_meta()
        if kind is not None and kind != self.kind:
            raise self._wrong_kind(kind)

    def _stored_kind(self) -> Plan[str | None]:
        kind: str | None = yield plan.call("hget", self._meta, "kind")
        return kind

    def _destroy(self) -> Plan[int]:
        found = yield plan.Call("scan_iter", (), {"match": connect.pattern(self.name), "count": BATCH}, every=True)
        gone = 0
        for at in range(0, len(found), BATCH):
            gone += yield plan.call("delete", *found[at : at + BATCH])
        return gone


#: A Lua runtime error in a script (where another client's data can lead one).
_LUA_ERROR = re.compile(r"(ERR )?user_(script|function):\d+: ")


class Patience:
    """How long one call rides out a server that cannot be reached: ``RIDE_OUT`` seconds in all."""

    #: What is waited out: unreachable, or a Cluster moving a slot or electing a
    #: primary (the call was not run), as for a restart.
    ERRORS = (redis.ConnectionError, redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError)

    def __init__(self, where: str, url: str, ride_out: bool = True) -> None:
        self.where, self.url, self.ride_out = where, url, ride_out
        self.deadline: float | None = None
        self.pause = 0.05

    def wait(self, error: Exception) -> float:
        """Seconds to wait before trying again after ``error``; when out of time, the error naming the URL."""
        now = time.monotonic()
        self.deadline = self.deadline or now + RIDE_OUT
        if isinstance(error, redis.AuthenticationError) or not self.ride_out or now >= self.deadline:
            raise connect.unreachable(self.where, self.url, error) from None
        pause = min(self.pause, self.deadline - now)
        self.pause = min(0.5, self.pause * 2)
        return pause


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a field appears twice in one object")
    return found


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON data tastypy writes")
