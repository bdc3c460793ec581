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

import collections
import hashlib
import json
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from tastypy.errors import DuplicateKeyError, IntegrityError
from tastypy.keys import check_key, key_from_json
from tastypy.observe import Op, apply, encode, normalize, unwrap
from tastypy.records import DEFAULTS, RecordDict, check_field, normal_record, record_problem
from tastypy.redis import connect, ops, scripts
from tastypy.redis.renew import held_locks, lost_locks, process_token, renewer
from tastypy.store.format import encode_key

_MISSING = object()

#: Keys a ``next`` script looks at before it lets other clients in.
BUDGET = 500
#: Keys deleted per command by ``drop()``.
BATCH = 500
#: Seconds between two tries to take a lock held by another process.
POLL = 0.05
#: Seconds a call keeps trying to reconnect (a server restarting) before its error.
RIDE_OUT = 10.0

_SHAS = {name: hashlib.sha1(src.encode()).hexdigest() for name, src in scripts.SCRIPTS.items()}


class RedisLink:
    """One POD or Tracker (``kind``) named ``name`` in the Redis database at ``url``."""

    #: Run the scripts as Redis 7 functions (``FCALL``) where the server
    #: allows it, else by ``EVALSHA`` (tests set it False to run that path).
    functions = True

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
        self._fcall = self.functions
        #: This process's ``try_keys()`` loops (the renewer thread reads them too).
        self._loops: dict[str, _Loop] = {}
        self._work = threading.Lock()
        self._closed = False

    def __reduce__(self) -> Any:
        options = (self.max_tries, self.lease, self.allow_eviction, self.prefetch)
        return RedisLink, (self.url, self.name, self.kind, *options)

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
            self._threads = threading.local()
            self._loops = {}
            self._work = threading.Lock()
            self._pid = os.getpid()
        return self._redis

    def _thread_client(self) -> Any:
        """This thread's client for the scripts: one connection of the pool, held.

        Held rather than checked out of the pool for each call (a third of
        a call's time in the client); one per thread, as a held connection
        must not be shared.
        """
        import redis

        shared = self._client()
        if self._cluster:
            return shared  # a RedisCluster: thread-safe, a pool per node
        pool = shared.connection_pool
        mine = getattr(self._threads, "client", None)
        if mine is None:
            mine = self._threads.client = redis.Redis(connection_pool=pool, single_connection_client=True)
        return mine

    def _run(self, script: str, *args: Any) -> Any:
        """Run an operation's script with the keys it uses and the caller's kind."""
        count = scripts.KEYS[script]
        return self._eval(script, count, *self._keys[:count], self.kind, *args)

    def _eval(self, script: str, *args: Any) -> Any:
        """Run ``script`` (``args``: the number of keys, keys, then ARGV) as a function, else by EVALSHA."""
        import redis

        client = self._thread_client()
        if self._fcall:
            try:
                return client.fcall(scripts.FUNCTIONS[script], *args)
            except redis.ResponseError as error:
                if str(error).startswith("Function not found"):  # first use, or a flushed server
                    self._load(client)
                elif isinstance(error, redis.exceptions.NoPermissionError) or str(error).startswith(
                    "unknown command"
                ):
                    self._fcall = False  # Redis < 7, or FCALL not allowed to this user
                else:
                    raise
            if self._fcall:
                return client.fcall(scripts.FUNCTIONS[script], *args)
        try:
            return client.evalsha(_SHAS[script], *args)
        except redis.exceptions.NoScriptError:  # a restarted server forgot it
            return client.eval(scripts.SCRIPTS[script], *args)

    def _load(self, client: Any) -> None:
        """Load the function library (on every primary of a Cluster); where refused, use EVALSHA from now on.

        REPLACE: a library's name is its version, so the one loaded is this
        same code (loaded meanwhile by another client, or kept by a node).
        """
        import redis

        try:
            client.function_load(scripts.LIBRARY, replace=True)
        except redis.ResponseError:
            self._fcall = False  # no right to FUNCTION LOAD

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
        import redis

        deadline = None
        pause = 0.05
        while True:
            try:
                return self._call_once(name, args, kwargs)
            except redis.AuthenticationError as error:
                raise connect.unreachable(self.where, self.url, error) from None
            except redis.ConnectionError as error:
                now = time.monotonic()
                deadline = deadline or now + RIDE_OUT
                if not ride_out or now >= deadline:
                    raise connect.unreachable(self.where, self.url, error) from None
                time.sleep(min(pause, deadline - now))
                pause = min(0.5, pause * 2)

    def _call_once(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        import redis

        if self._closed:
            raise ValueError(f"{self._what} at {self.where} is closed; create it again to use it")
        method = _OPS.get(name)
        if method is None or (name in _TRACKER_OPS and not self._tracker):
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

    def close(self) -> None:
        """Free this link's work claims and this process's lock, close its connections."""
        if self._closed:
            return
        self._closed = True
        if self._pid != os.getpid():
            return
        import redis

        try:
            for loop, state in list(self._loops.items()):
                self._free(loop, state)
            with _guard:
                if held_locks().pop((self.url, self.name), None):
                    self._eval("LOCK_FREE", 1, self._lock_key, process_token())
        except redis.RedisError:
            pass  # unreachable, or the name damaged: the claims and the lock expire after the lease anyway
        self._loops = {}
        self._redis.close()

    def destroy(self) -> int:
        """Delete every Redis key of this name (and no other); return how many."""
        gone: int = self.call("_destroy")
        return gone

    # -- keys and values -------------------------------------------------------

    def _key(self, key: Any) -> str:
        return encode_key(check_key(key))

    def _lookup(self, key: Any) -> str | None:
        """The key text to read ``key`` under; None for a key no POD can hold."""
        try:
            return encode_key(key)
        except TypeError:
            hash(key)  # unhashable: the TypeError a dict gives
            return None

    def _text(self, key: Any, value: Any) -> str:
        if self._tracker:
            return encode(self._record(key, value))
        return encode(normalize(value, (key,)))

    def _record(self, key: Any, value: Any) -> dict[str, Any]:
        return normal_record(key, value)

    def _absent(self, key: Any) -> KeyError:
        if self._tracker:
            return KeyError(
                f"{key!r} is not in the tracker at {self.where}; add it first "
                "with add() (or use should_do_add() / should_try_add())"
            )
        return KeyError(key)

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
        import redis

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

    # -- the POD's methods -------------------------------------------------------

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

    def _getitem(self, key: Any) -> Any:
        found, value = self._get(key)
        if not found:
            raise KeyError(key)
        return value

    def _get(self, key: Any) -> tuple[bool, Any]:
        ktext = self._lookup(key)
        if ktext is None:
            return False, None
        text = self._client().hget(self._values, ktext)
        if text is None:
            return False, None
        return True, self._value(ktext, text)

    def _setitem(self, key: Any, value: Any) -> None:
        self._run("SET", self._key(key), self._text(key, value))

    def _delitem(self, key: Any) -> None:
        ktext = self._lookup(key)
        if ktext is None or self._run("DELETE", ktext, "") is None:
            raise KeyError(key)

    def _contains(self, key: Any) -> bool:
        ktext = self._lookup(key)
        return ktext is not None and bool(self._client().hexists(self._values, ktext))

    def _len(self) -> int:
        count: int = self._client().hlen(self._values)
        return count

    def _pop(self, key: Any, default: Any = _MISSING) -> Any:
        ktext = self._lookup(key)
        got = None if ktext is None else self._run("DELETE", ktext, "1")
        if ktext is None or got is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        if got[0] == 1:
            return self._value(ktext, got[1])
        value = self._value(ktext, got[1])  # what the engine could not vouch for
        if self._run("CAS", ktext, got[1], ""):
            return value
        return self._pop(key, default)  # changed meanwhile

    def _popitem(self) -> tuple[Any, Any]:
        got = self._run("POPITEM")
        if got is None:
            raise KeyError(f"popitem(): {self.where} is empty")
        key, ktext, text = self._key_of(got[1]), got[1], got[2]
        if got[0] == 1:
            return key, self._value(ktext, text)
        if not text:
            raise self._damaged(ktext, None, "")
        value = self._value(ktext, text)  # what the engine could not vouch for
        if self._run("CAS", ktext, text, ""):
            return key, value
        return self._popitem()  # changed meanwhile

    def _setdefault(self, key: Any, default: Any = None) -> Any:
        ktext = self._key(key)
        try:
            text = self._text(key, default)
        except (TypeError, ValueError):
            # A default that could not be stored matters only if it must be.
            found, value = self._get(key)
            if found:
                return value
            raise
        return self._value(ktext, self._run("SETDEFAULT", ktext, text))

    def _update(self, pairs: Any = (), **kwargs: Any) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        checked = []
        for pair in [*items, *kwargs.items()]:
            try:
                key, value = pair
            except (TypeError, ValueError):
                raise TypeError(f"update() needs a mapping or (key, value) pairs, got {pair!r}") from None
            check_key(key)
            checked.append((key, unwrap(value)))
        if self._tracker:
            self._merge(checked)
            return
        args: list[str] = []
        for key, value in checked:
            args += [self._key(key), self._text(key, value)]
        if args:
            self._run("PUT_MANY", *args)

    def _merge(self, pairs: list[tuple[Any, Any]]) -> None:
        """The tracker's update: each dict merged into its record, all or nothing."""
        for key, value in pairs:
            if not isinstance(value, dict):
                self._record(key, value)  # raises the TypeError that names the key
        ktexts = list(dict.fromkeys(self._key(key) for key, _ in pairs))
        while True:
            olds = dict(zip(ktexts, self._client().hmget(self._values, ktexts)))
            merged: dict[str, tuple[Any, dict[str, Any]]] = {}
            for key, value in pairs:
                ktext = self._key(key)
                if ktext not in merged:
                    old = olds[ktext]
                    merged[ktext] = (key, self._value(ktext, old) if old is not None else {})
                merged[ktext] = (key, {**merged[ktext][1], **value})
            args: list[str] = []
            for ktext, (key, record) in merged.items():
                args += [ktext, olds[ktext] or "", encode(self._record(key, record))]
            if not args or self._run("CAS", *args):
                return

    def _clear(self) -> None:
        self._run("CLEAR")

    def _nothing(self, *args: Any) -> None:
        """Redis keeps no unsynced state in a client: nothing to write, hold or drop."""

    def _mark_dirty(self, key: Any) -> None:
        if not self._contains(key):
            raise KeyError(key)

    def _dirty(self) -> set[Any]:
        return set()

    # -- reading in chunks -------------------------------------------------------

    def _keys_at(self, start: int, count: int) -> list[Any]:
        return [self._key_of(k) for k in self._client().zrange(self._order, start, start + count - 1)]

    def _items_at(self, start: int, count: int) -> list[tuple[Any, Any]]:
        client = self._client()
        while True:
            ktexts = client.zrange(self._order, start, start + count - 1)
            texts = client.hmget(self._values, ktexts) if ktexts else []
            if None not in texts:
                return [(self._key_of(k), self._value(k, t)) for k, t in zip(ktexts, texts)]
            # A key was deleted between the two reads: read the chunk again.

    def _scan(
        self, start: int, count: int, test: str, allow_aborted: bool, values: bool
    ) -> tuple[list[Any], int, bool]:
        got = self._run("SCAN", start, count, test, _flag(allow_aborted), self.max_tries, _flag(values))
        found = [
            (self._key_of(got[i]), self._value(got[i], got[i + 1])) if values else self._key_of(got[i])
            for i in range(2, len(got), 2)
        ]
        return found, int(got[0]), got[1] == "1"

    def _equals(self, other: dict[Any, Any]) -> bool:
        if len(other) != self._len():
            return False
        pairs = list(other.items())
        for at in range(0, len(pairs), BATCH):
            chunk = pairs[at : at + BATCH]
            ktexts = []
            for key, _ in chunk:
                ktext = self._lookup(key)
                if ktext is None:
                    return False
                ktexts.append(ktext)
            texts = self._client().hmget(self._values, ktexts)
            for (_, value), ktext, text in zip(chunk, ktexts, texts):
                if text is None or self._value(ktext, text) != value:
                    return False
        return True

    def _attr(self, name: str) -> Any:
        if name != "max_tries":
            raise AttributeError(name)
        return self.max_tries

    # -- operation records -------------------------------------------------------

    def _apply(self, op: Op) -> Any:
        if not op.path:
            return self._apply_top(op)
        key = op.key
        ktext = self._lookup(key)
        if ktext is None:
            raise KeyError(key)
        got = self._run("APPLY", ktext, *ops.op_args(op))
        if got[0] == 1:
            return ops.decode_result(op, got[1])
        if got[0] == 2:
            raise KeyError(key)
        if got[1] != ops.FALLBACK:
            raise ops.error(got[1], got[2])
        return self._apply_in_python(op, key, ktext)

    def _apply_in_python(self, op: Op, key: Any, ktext: str) -> Any:
        """What the engine leaves to Python: read, apply, write if unchanged meanwhile."""
        client = self._client()
        while True:
            old = client.hget(self._values, ktext)
            if old is None:
                raise KeyError(key)
            box = {key: self._observed(key, self._value(ktext, old))}
            result = unwrap(apply(op, box))
            value = unwrap(box[key])
            if self._tracker:
                _check_record(key, value)
            new = encode(value)
            if new == old or self._run("CAS", ktext, old, new):
                return result

    def _observed(self, key: Any, value: Any) -> Any:
        # A record behind its guard: a bad special field is refused, with
        # the error a Tracker gives, before anything changes.
        if self._tracker and type(value) is dict:
            return RecordDict(value, (key,), _unseen, value)
        return value

    def _apply_top(self, op: Op) -> Any:
        method = _TOP.get(op.method)
        if method is None:
            raise TypeError(f"{op.method}() is not a mutation tastypy applies to the mapping itself")
        return method(self, *op.args, **dict(op.kwargs))

    # -- the tracker's methods ---------------------------------------------------

    def _add(self, key: Any) -> None:
        got = self._run("ADD", "strict", self._key(key))
        if got[0] == 0:
            raise DuplicateKeyError(self._duplicate(key))

    def _add_if_absent(self, key: Any) -> bool:
        added: bool = self._run("ADD", "absent", self._key(key))[0] == 1
        return added

    def _add_many(self, keys: list[Any]) -> None:
        seen: set[str] = set()
        ktexts = []
        for key in keys:
            ktext = self._key(key)
            if ktext in seen:
                raise DuplicateKeyError(self._duplicate(key) + "; nothing was added")
            seen.add(ktext)
            ktexts.append(ktext)
        if ktexts:
            got = self._run("ADD", "strict", *ktexts)
            if got[0] == 0:
                raise DuplicateKeyError(self._duplicate(self._key_of(got[1])) + "; nothing was added")

    def _add_many_if_absent(self, keys: list[Any]) -> int:
        ktexts = list(dict.fromkeys(self._key(key) for key in keys))
        added: int = self._run("ADD", "absent", *ktexts)[0] if ktexts else 0
        return added

    def _duplicate(self, key: Any) -> str:
        return (
            f"{key!r} is already in the tracker at {self.where}; "
            "use add_if_absent() or add_many_if_absent() to skip present keys"
        )

    def _field(self, key: Any, what: str) -> None:
        ktext = self._lookup(key)
        got = None if ktext is None else self._run("FIELD", ktext, what)
        if got is None:
            raise self._absent(key)
        if got == 0:
            raise ValueError(f"tracker[{key!r}] has 0 tries: there is no try to take back")

    def _flags(self, key: Any) -> dict[str, Any] | None:
        found, record = self._get(key)
        return record if found else None

    def _done(self, key: Any) -> bool:
        record = self._flags(key)
        return record is not None and record["_done"]

    def _aborted(self, key: Any) -> bool:
        record = self._flags(key)
        return record is not None and record["_aborted"]

    def _tries(self, key: Any) -> int:
        record = self._flags(key)
        if record is None:
            raise self._absent(key)
        tries: int = record["_tries"]
        return tries

    def _should(self, key: Any, allow_aborted: bool, add: bool, count: bool) -> bool:
        ktext = self._key(key) if add else self._lookup(key)
        got = None
        if ktext is not None and not (add or count):
            got = self._run("PEEK", ktext, _flag(allow_aborted), self.max_tries)  # no-writes
        elif ktext is not None:
            got = self._run("SHOULD", ktext, _flag(allow_aborted), self.max_tries, _flag(add), _flag(count))
        if got is None:
            raise self._absent(key)
        yes: bool = got == 1
        return yes

    def _counter(self, name: str) -> int:
        return int(self._client().hget(self._meta, name) or 0)

    # -- shared work ---------------------------------------------------------------

    def _loop(self, task: Any) -> str:
        return f"{process_token()}:{task}"

    def _next(self, task: Any, start: int, allow_aborted: bool, values: bool) -> Any:
        loop = self._loop(task)
        self._client()
        with self._work:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _Loop()
        renewer.watch(self)
        with self._work:
            if state.claimed and not values:
                # Claimed ahead in an earlier round trip; the key before stays
                # held (and renewed) until the next round trip frees it.
                ktext, after = state.claimed.popleft()
                state.handed.append(ktext)
                return self._key_of(ktext), after, None
        want = 1 if values else self.prefetch
        while True:
            for ktext in [k for k, position in state.orphans.items() if position < start]:
                del state.orphans[ktext]
            release = list(state.handed)
            got = self._run(
                "NEXT", loop, start, _flag(allow_aborted), self.max_tries, _flag(values),
                self._lease_ms, BUDGET, want, len(release), *release, *state.orphans,
            )
            with self._work:
                del state.handed[: len(release)]
                if got[0] == "keys":
                    claims = [got[i : i + 4] for i in range(1, len(got), 4)]
                    for ktext, _, _, orphan in claims:
                        if orphan:
                            state.orphans[ktext] = int(orphan)
                    state.handed.append(claims[0][0])
                    state.claimed.extend((ktext, int(after)) for ktext, after, _, _ in claims[1:])
            if got[0] == "keys":
                ktext, after, text, _ = claims[0]
                return self._key_of(ktext), int(after), self._value(ktext, text) if values else None
            if got[0] == "end":
                return None
            start = int(got[1])

    def _drop(self, task: Any) -> None:
        with self._work:
            state = self._loops.pop(self._loop(task), None)
        if state is not None:
            self._free(self._loop(task), state)

    def _free(self, loop: str, state: _Loop) -> None:
        """The loop ended: free its unfinished keys, give back those it never started."""
        back = [ktext for ktext, _ in state.claimed]
        self._run("DROP", loop, len(state.handed), *state.handed, *back)

    def renew(self) -> None:
        """Extend this process's claims and lock (the renewer thread calls it)."""
        if self._closed or self._pid != os.getpid():
            return
        with self._work:
            held = [
                part
                for loop, state in self._loops.items()
                for ktext in [*state.handed, *(k for k, _ in state.claimed)]
                for part in (loop, ktext)
            ]
        if held:
            self._run("RENEW", self._lease_ms, *held)
        slot = (self.url, self.name)
        if (
            held_locks().get(slot)
            and slot not in lost_locks()
            and not self._eval("LOCK_RENEW", 1, self._lock_key, process_token(), self._lease_ms)
        ):
            lost_locks().add(slot)
            warnings.warn(
                f"{self._what} at {self.where}: this process's lock was lost (its lease ran "
                "out, or Redis evicted or another client deleted its key): another process "
                "may take it now; unlock() will raise",
                RuntimeWarning,
                stacklevel=1,
            )

    # -- the lock ------------------------------------------------------------------

    def _lock(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        client = self._client()
        slot = (self.url, self.name)
        held = held_locks()
        while True:
            with _guard:
                if held.get(slot):
                    if slot not in lost_locks() and client.get(self._lock_key) == process_token():
                        held[slot] += 1
                        return True
                    raise self._lost()
                if client.set(self._lock_key, process_token(), nx=True, px=self._lease_ms):
                    held[slot] = 1
                    renewer.watch(self)
                    return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            wait = POLL if deadline is None else min(POLL, max(0.0, deadline - time.monotonic()))
            time.sleep(wait)

    def _unlock(self) -> None:
        slot = (self.url, self.name)
        held = held_locks()
        with _guard:
            depth = held.get(slot, 0)
            if depth == 0:
                raise RuntimeError(f"{self._what} at {self.where}: unlock() by a process that does not hold the lock")
            if depth > 1:
                held[slot] = depth - 1
                return
            del held[slot]
            self._client()
            freed = self._eval("LOCK_FREE", 1, self._lock_key, process_token())
            if slot in lost_locks() or not freed:
                lost_locks().discard(slot)
                raise self._lost()

    def _lost(self) -> RuntimeError:
        return RuntimeError(
            f"{self._what} at {self.where}: this process's lock was lost while held (its lease "
            "ran out, or Redis evicted or another client deleted its key), so another process "
            "may have held it meanwhile; the locked block was not protected. Give lock() a "
            "longer lease, and run Redis with maxmemory-policy noeviction"
        )

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


class _Loop:
    """A ``try_keys()`` loop of this process: what it holds on the server."""

    __slots__ = ("claimed", "handed", "orphans")

    def __init__(self) -> None:
        #: Handed to the loop, not freed yet (freed by the next round trip, if not finished).
        self.handed: list[str] = []
        #: Claimed ahead (key text, next start), in order, not handed yet.
        self.claimed: collections.deque[tuple[str, int]] = collections.deque()
        #: Orphans handed ahead of the loop's scan, by position: not to be handed twice in one pass.
        self.orphans: dict[str, int] = {}


#: Threads of one process take the process's lock one at a time.
_guard = threading.Lock()


def _new_guard() -> None:
    global _guard
    _guard = threading.Lock()  # a fork may have copied it held


os.register_at_fork(after_in_child=_new_guard)


def _flag(value: bool) -> str:
    return "1" if value else ""


#: A Lua runtime error in a script (where another client's data can lead one).
_LUA_ERROR = re.compile(r"(ERR )?user_(script|function):\d+: ")


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a field appears twice in one object")
    return found


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON data tastypy writes")


def _unseen(op: Op, root: Any) -> None:
    """The owner of a record proxy made to apply one Op: the Op is known already."""


def _check_record(key: Any, value: Any) -> None:
    """After an Op: the record must still be a record (the proxy refused most already)."""
    if type(value) is not dict:
        raise TypeError(f"tracker[{key!r}] must stay a dict (a task record), not {type(value).__name__}")
    for field in DEFAULTS:
        if field not in value:
            raise TypeError(
                f"cannot delete tracker[{key!r}][{field!r}]: every record keeps "
                "_done, _tries and _aborted; set it instead (e.g. tracker.reset_tries(key))"
            )
        check_field(key, field, value[field])


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
    "mark_done": _tracker_op("done"),
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
