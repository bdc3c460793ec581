"""The client face of a hosted POD or Tracker, written once for every host.

``ClientPOD`` and ``ClientTracker`` hold all that users touch (the mapping,
``.set``, proxies that forward ``Op`` records, chunked iteration,
``locked()``, the walks and the shared ``try_*()`` loops) and reach their
host through one *link*: ``link.call(name, *args)`` runs one named operation
atomically on the host and returns plain data or raises the host's error;
``link.close()`` releases this process's connections; ``link.where`` names
the host in messages. A link pickles to what reconnects, never to data.

Both are generic: ``ClientPOD[K, V]`` over its key and value types,
``ClientTracker[K, R]`` over its key and record types (``R`` a ``TypedDict``
extending ``tastypy.TaskRecord``); unparameterized, they are ``[Any, Any]``.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import functools
import os
import threading
import time
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    ValuesView,
)
from typing import TYPE_CHECKING, Any, TypeVar, overload

from tastypy.counts import Fractions, R
from tastypy.failures import Failures
from tastypy.keys import K, V
from tastypy.observe import WRITABLE, Op, Recorder, unwrap
from tastypy.operations import plain
from tastypy.pod import DictMethods, OldIterators, PersistentOrderedDict, pairs_of, two
from tastypy.tracker import ProgressTracker
from tastypy.work import loop, next_loop

if TYPE_CHECKING:
    from typing_extensions import Self

#: Keys (or items) fetched by one call of an iteration.
CHUNK = 1000

_MISSING: Any = object()


class _Gate:
    """This process's side of a host's user lock: which thread holds it.

    The host knows processes, not threads; the gate makes ``locked()`` keep
    out the other threads of this process too, and their calls wait for it.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.holder: int | None = None
        self.depth = 0


#: One gate per host (``link.where``) in this process, made anew in a forked child.
_gates: dict[str, _Gate] = {}
_gates_made = threading.Lock()


def _gate(where: str) -> _Gate:
    gate = _gates.get(where)
    if gate is None:
        with _gates_made:
            gate = _gates.setdefault(where, _Gate())
    return gate


def _forget_gate(where: str) -> None:
    """Closing frees the host's lock of this process: free the gate too, if this thread holds it."""
    gate = _gates.pop(where, None)
    if gate is not None and gate.holder == threading.get_ident():
        for _ in range(gate.depth):
            gate.lock.release()


def _gates_anew_in_child() -> None:
    # The parent's threads (and their locked() blocks) do not exist in a forked child.
    global _gates_made
    _gates.clear()
    _gates_made = threading.Lock()


os.register_at_fork(after_in_child=_gates_anew_in_child)

_T = TypeVar("_T")


class ClientPOD(DictMethods[K, V], OldIterators[K, V], MutableMapping[K, V]):
    """A POD held by a server, used from any number of processes.

    Every method is one atomic call to the server. ``pod.set[...]`` records a
    mutation that the server applies atomically; ``lock()`` / ``locked()``
    give exclusive access.
    """

    _link: Any

    def __reduce__(self) -> Any:
        return _rebuild, (type(self), self._link, getattr(self, "backoff", None))

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``link.call``, after any ``locked()`` block of another thread of this process."""
        gate = _gates.get(self._link.where)
        if gate is not None and gate.holder is not None and gate.holder != threading.get_ident():
            with gate.lock:
                pass
        return self._link.call(name, *args, **kwargs)

    def _wrap(self, key: Any, value: Any) -> Any:
        kind = WRITABLE.get(type(value))
        if kind is None:
            return value
        return kind(value, (key,), self._report, value)

    def _report(self, op: Op, root: Any) -> None:
        # A local copy was mutated: have the host do the same to its value.
        self._call("apply", op)

    @property
    def set(self) -> Recorder:
        """Record a mutation for the server to apply atomically.

        ``shared.set['a']['n'] += 1``, ``shared.set['a']['l'].append(x)``,
        ``shared.set['k'] = v``: read, modify and write happen on the server
        in one call, so no update from another process is lost.
        """
        return Recorder(self._emit)

    def _emit(self, op: Op) -> Any:
        # ``_call("apply", op)`` written out: the path of every ``.set`` change.
        gate = _gates.get(self._link.where)
        if gate is not None and gate.holder is not None and gate.holder != threading.get_ident():
            with gate.lock:
                pass
        return self._link.call("apply", op)

    # -- the mapping -----------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        """A local copy of the value; mutating it also changes the server's."""
        return self._wrap(key, self._call("__getitem__", key))  # type: ignore[no-any-return]

    @overload
    def get(self, key: K, default: None = None) -> V | None: ...
    @overload
    def get(self, key: K, default: V) -> V: ...
    @overload
    def get(self, key: K, default: _T) -> V | _T: ...
    def get(self, key: K, default: Any = None) -> Any:
        """A local copy of the value of ``key`` if present, else ``default``."""
        found, value = self._call("get", key)
        return self._wrap(key, value) if found else default

    def __setitem__(self, key: K, value: V) -> None:
        self._call("__setitem__", key, unwrap(value))

    def __delitem__(self, key: K) -> None:
        self._call("__delitem__", key)

    def __contains__(self, key: object) -> bool:
        return self._call("__contains__", key)  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return self._call("__len__")  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[K]:
        """Keys in insertion order, fetched ``CHUNK`` at a time.

        Keys added meanwhile (by any process or thread) are reached: the
        walk ends with an empty chunk, asked for after the last key was
        handed out. A key deleted before the current position shifts the
        rest by one, like a list.
        """
        return self._chunks("keys")

    def _chunks(self, what: str) -> Iterator[Any]:
        start = 0
        while True:
            chunk = self._call(what, start, CHUNK)
            if not chunk:
                return
            if what == "items":
                chunk = [(key, self._wrap(key, value)) for key, value in chunk]
            yield from chunk
            start += len(chunk)

    def values(self) -> ValuesView[V]:
        """The values in insertion order, fetched ``CHUNK`` at a time."""
        return _Values(self)

    def items(self) -> ItemsView[K, V]:
        """The ``(key, value)`` pairs in insertion order, fetched ``CHUNK`` at a time."""
        return _Items(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._call("equals", {key: unwrap(value) for key, value in other.items()})  # type: ignore[no-any-return]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._link.where!r})"

    @overload
    def pop(self, key: K) -> V: ...
    @overload
    def pop(self, key: K, default: V) -> V: ...
    @overload
    def pop(self, key: K, default: _T) -> V | _T: ...
    def pop(self, key: K, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its (plain) value, or ``default``."""
        if default is _MISSING:
            return self._call("pop", key)
        return self._call("pop", key, default)

    def popitem(self) -> tuple[K, V]:
        """Remove and return the last ``(key, plain value)`` pair, as ``dict`` does."""
        return self._call("popitem")  # type: ignore[no-any-return]

    @overload
    def setdefault(self, key: K) -> V | None: ...
    @overload
    def setdefault(self, key: K, default: V) -> V: ...
    def setdefault(self, key: K, default: Any = None) -> Any:
        """``pod[key]`` if present, else store ``default`` and return it (as read)."""
        return self._wrap(key, self._call("setdefault", key, unwrap(default)))

    def update(  # type: ignore[override]
        self, other: Mapping[K, V] | Iterable[tuple[K, V]] = (), /, **kwargs: V
    ) -> None:
        """Like ``dict.update``, in one call: every value is checked before any is stored."""
        items = pairs_of(other)
        pairs = [(key, unwrap(value)) for key, value in map(two, items)]
        self._call("update", pairs, **kwargs)

    def clear(self) -> None:
        """Delete every key."""
        self._call("clear")

    # -- the POD's own methods -------------------------------------------------

    def sync(self) -> None:
        """Make the server write every dirty key; returns once it is on disk.

        A ``RedisPOD`` has no dirty keys: every call is on the Redis server
        when it returns, and this does nothing.
        """
        self._call("sync")

    def sync_key(self, key: K) -> None:
        """Make the server write the change of one key now (on Redis: nothing to do)."""
        self._call("sync_key", key)

    def mark_dirty(self, key: K) -> None:
        """Mark ``key`` as changed."""
        self._call("mark_dirty", key)

    def dirty(self) -> builtins.set[K]:  # (here `set` names the recorder)
        """The keys changed since the last sync."""
        return self._call("dirty")  # type: ignore[no-any-return]

    def hold(self) -> None:
        """Suspend the server's automatic syncs (``sync()``, ``close()`` and exit still sync)."""
        self._call("hold")

    def unhold(self) -> None:
        """Resume automatic syncs."""
        self._call("unhold")

    def revert(self) -> None:
        """Drop every unsynced change and reload the last sync."""
        self._call("revert")

    # -- locking -----------------------------------------------------------------

    def lock(self, timeout: float | None = None) -> bool:
        """Take the lock: the block until ``unlock()`` runs alone.

        Every call of the other threads of this process waits for it, and
        so does another process's ``lock()``; on a ``SharedPOD`` the other
        processes' plain calls wait too (on Redis they go on). Reentrant in
        its thread. Returns False if ``timeout`` seconds passed first.
        Released by ``unlock()``, or when this process dies.
        """
        gate = _gate(self._link.where)
        began = time.monotonic()
        if not gate.lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - began))
            taken = self._link.call("lock", left)
        except BaseException:
            gate.lock.release()
            raise
        if not taken:
            gate.lock.release()
            return False
        gate.holder = threading.get_ident()
        gate.depth += 1
        return True

    def unlock(self) -> None:
        """Release the lock taken by ``lock()`` (RuntimeError if this thread does not hold it)."""
        gate = _gates.get(self._link.where)
        if gate is None or gate.holder != threading.get_ident():
            raise RuntimeError(
                f"{type(self).__name__} at {self._link.where}: unlock() by a thread that does not hold the lock"
            )
        try:
            self._link.call("unlock")
        finally:
            gate.depth -= 1
            if gate.depth == 0:
                gate.holder = None
            gate.lock.release()

    @contextlib.contextmanager
    def locked(self) -> Iterator[Self]:
        """``with pod.locked():`` -- exclusive access for the block."""
        self.lock()
        try:
            yield self
        finally:
            self.unlock()

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Close the server's POD (it syncs) and this process's connections.

        On a ``RedisPOD``: close this process's connections; the data stays
        in Redis.
        """
        with contextlib.suppress(ValueError):
            self._call("close")
        self._link.close()
        _forget_gate(self._link.where)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Values(ValuesView[V]):
    _mapping: ClientPOD[Any, V]

    def __iter__(self) -> Iterator[V]:
        for _, value in self._mapping._chunks("items"):
            yield value


class _Items(ItemsView[K, V]):
    _mapping: ClientPOD[K, V]

    def __iter__(self) -> Iterator[tuple[K, V]]:
        return self._mapping._chunks("items")


def _rebuild(cls: type[ClientPOD[Any, Any]], link: Any, backoff: Any = None) -> ClientPOD[Any, Any]:
    face = cls.__new__(cls)
    face._link = link
    if backoff is not None:
        face.backoff = backoff  # type: ignore[attr-defined]  # a tracker's
    return face


class ClientTracker(Failures, Fractions, ClientPOD[K, R]):
    """A ProgressTracker held by a server, its work shared out.

    Its methods are those of ``ProgressTracker``, each one atomic call.
    Several processes looping over ``try_keys()`` at once share the work like
    workers on a queue: a key handed to one loop is handed to no other while
    that loop is on it.
    """

    @property
    def max_tries(self) -> int:
        """The most tries of a task before it is no longer to do (0: no limit)."""
        return self._call("attr", "max_tries")  # type: ignore[no-any-return]

    if TYPE_CHECKING:  # one call each to the host: set below from tastypy.operations

        def add(self, key: K) -> None: ...
        def add_if_absent(self, key: K) -> bool: ...
        def mark_done(self, key: K, *, revisit_after: float | None = None) -> None: ...
        def mark_not_done(self, key: K) -> None: ...
        def done(self, key: K) -> bool: ...
        def abort(self, key: K) -> None: ...
        def unabort(self, key: K) -> None: ...
        def aborted(self, key: K) -> bool: ...
        def increment_tries(self, key: K) -> None: ...
        def decrement_tries(self, key: K) -> None: ...
        def reset_tries(self, key: K) -> None: ...
        def tries(self, key: K) -> int: ...
        def should_do(self, key: K, allow_aborted: bool = False) -> bool: ...
        def should_do_add(self, key: K, allow_aborted: bool = False) -> bool: ...
        def should_try(self, key: K, allow_aborted: bool = False) -> bool: ...
        def should_try_add(self, key: K, allow_aborted: bool = False) -> bool: ...
        def num_done(self) -> int: ...
        def num_tried(self) -> int: ...
        def num_aborted(self) -> int: ...
        def num_waiting(self) -> int: ...
        def next_due(self) -> float | None: ...

        # A tracker merges each (partial) record into the key's: any fields will do.
        def update(  # type: ignore[override]
            self,
            other: Mapping[K, Mapping[str, Any]] | Iterable[tuple[K, Mapping[str, Any]]] = (),
            /,
            **kwargs: Mapping[str, Any],
        ) -> None: ...

    def add_many(self, keys: Iterable[K]) -> None:
        """Add every key; if any is present (or repeated), add none (``DuplicateKeyError``)."""
        self._call("add_many", list(keys))

    def retry(self, keys: Iterable[K]) -> int:
        """Put ``keys`` back to do: no tries, not aborted, due now, in one step; how many."""
        return self._call("retry", list(keys))  # type: ignore[no-any-return]

    def add_many_if_absent(self, keys: Iterable[K]) -> int:
        """Add the keys not present yet; return how many were added."""
        return self._call("add_many_if_absent", list(keys))  # type: ignore[no-any-return]

    # -- walks -----------------------------------------------------------------

    def _scan(self, test: str, allow_aborted: bool, values: bool) -> Iterator[Any]:
        start = 0
        while True:
            found, start, end = self._call("scan", start, CHUNK, test, allow_aborted, values)
            if values:
                yield from ((key, self._wrap(key, value)) for key, value in found)
            else:
                yield from found
            if end:
                return

    def todo_keys(self, allow_aborted: bool = False) -> Iterator[K]:
        """The keys to do (see ``should_do``), in insertion order, fetched in chunks."""
        return self._scan("todo", allow_aborted, False)

    def todo_items(self, allow_aborted: bool = False) -> Iterator[tuple[K, R]]:
        """``(key, record)`` of ``todo_keys()``."""
        return self._scan("todo", allow_aborted, True)

    def todo_values(self, allow_aborted: bool = False) -> Iterator[R]:
        """The records of ``todo_keys()``."""
        return (value for _, value in self.todo_items(allow_aborted))

    def aborted_keys(self) -> Iterator[K]:
        """The aborted keys, in insertion order, fetched in chunks."""
        return self._scan("aborted", False, False)

    def aborted_items(self) -> Iterator[tuple[K, R]]:
        """``(key, record)`` of ``aborted_keys()``."""
        return self._scan("aborted", False, True)

    def aborted_values(self) -> Iterator[R]:
        """The records of ``aborted_keys()``."""
        return (value for _, value in self.aborted_items())

    # -- shared work -------------------------------------------------------------

    def _work(self, allow_aborted: bool, values: bool, max_wait: float | None) -> Iterator[Any]:
        task = next_loop()

        def ask(start: int) -> Any:
            return self._call("next", task, start, allow_aborted, values)

        def end() -> None:
            # The server may be gone (closed, or Redis unreachable): the claim
            # then ends with the connection or its lease.
            with contextlib.suppress(ValueError, ConnectionError):
                self._call("drop", task)

        for key, value in loop(ask, end, max_wait):
            yield (key, self._wrap(key, value)) if values else key

    def try_keys(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> Iterator[K]:
        """Keys to try, each with its try counted, shared between processes.

        Each call is one loop: the server hands it the next key that should be
        tried and that no other loop is on (counting the try in the same
        call), first any key whose loop died, then any whose ``_retry_at``
        came. When only keys waiting for their ``_retry_at`` are left, the
        loop sleeps until the first is due, at most ``max_wait`` seconds in
        all (None: as long as it takes). ``progress=True`` shows a tqdm bar
        of the done keys, as ``ProgressTracker.try_keys``.
        """
        return self._bar(self._work(allow_aborted, False, max_wait), progress)

    def try_items(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> Iterator[tuple[K, R]]:
        """``(key, record)`` of ``try_keys()``."""
        return self._bar(self._work(allow_aborted, True, max_wait), progress)

    def try_values(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> Iterator[R]:
        """The records of ``try_keys()``."""
        return (value for _, value in self.try_items(allow_aborted, progress, max_wait=max_wait))

    # -- attempts (``Failures`` builds attempt() and mark_failed() on these) ----

    def _begin(self, key: K) -> R:
        return self._wrap(key, self._call("begin", key))  # type: ignore[no-any-return]

    def _fail(self, key: K, info: dict[str, Any], wait: float) -> None:
        self._call("fail", key, info, wait)

    def _give_back(self, key: K) -> None:
        self._call("give_back", key)

    def _bar(self, loop: Iterator[_T], progress: bool) -> Iterator[_T]:
        if not progress:
            return loop
        from tastypy.progress import bar_over

        return bar_over(loop, self)


def _forward(cls: type[Any], name: str, model: type[Any]) -> Callable[..., Any]:
    def call(self: ClientPOD[Any, Any], *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    # Name, docstring and signature (through __wrapped__) of the model's.
    functools.update_wrapper(call, getattr(model, name))
    call.__qualname__ = f"{cls.__name__}.{name}"
    return call


def _forward_plain(cls: type[Any], tracker: bool, model: type[Any]) -> None:
    """One forwarder per plain operation (``tastypy.operations``) that ``cls`` does not write out."""
    for name in plain(tracker):
        if name not in vars(cls):
            setattr(cls, name, _forward(cls, name, model))
    abc.update_abstractmethods(cls)


_forward_plain(ClientPOD, False, PersistentOrderedDict)
_forward_plain(ClientTracker, True, ProgressTracker)
