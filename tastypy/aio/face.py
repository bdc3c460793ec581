"""The async face of a POD or Tracker, written once for every host.

``AsyncClientPOD`` and ``AsyncClientTracker`` mirror ``ClientPOD`` and
``ClientTracker`` method for method, each call a coroutine, and reach their
host through one *async link*:

- ``await link.call(name, *args, **kwargs)`` runs one operation of
  ``tastypy.operations`` atomically on the host, off the event loop's
  thread, and returns plain data (a copy) or raises the host's error;
- ``link.closed`` is True once it is closed (a claim given back after
  that is ended by the host itself);
- ``await link.aclose()`` closes the host (or this process's connections)
  and leaves no thread or connection behind; ``link.where`` names the host.

A value read is a plain copy: changing it changes nothing stored. Writes
are awaited calls (``setitem``, ``update``, ``async with pod.changes()``),
so none is lost silently and each error reaches the coroutine that made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tastypy.counts import R, percent
from tastypy.failures import _seconds, delay, error_info
from tastypy.keys import K, V
from tastypy.observe import Op, Recorder, unwrap
from tastypy.operations import plain
from tastypy.pod import PersistentOrderedDict, pairs_of, two
from tastypy.tracker import ProgressTracker
from tastypy.work import NAP, next_loop

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

#: Keys (or items) fetched by one call of an iteration.
CHUNK = 1000

_MISSING: Any = object()

_T = TypeVar("_T")

#: Async names of the operations whose sync name is a dunder (``await pod.contains(key)``).
ASYNC_NAMES = {"__getitem__": "getitem", "__setitem__": "setitem", "__delitem__": "delitem",
               "__contains__": "contains", "__len__": "length"}  # fmt: skip


class AsyncClientPOD(Generic[K, V]):
    """A POD reached through an async link: every call that may wait is a coroutine.

    ``async with`` opens and closes it; ``async for key in pod:`` walks the
    keys. Values read are plain copies; write with ``setitem``,
    ``update`` or ``async with pod.changes() as c:``.
    """

    _link: Any
    _holder: asyncio.Task[Any] | None = None
    _depth = 0
    _closing = False

    def _init_face(self, link: Any) -> None:
        self._link = link
        self._gate = asyncio.Lock()

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``link.call``, after any ``locked()`` block of another task; none once ``aclose()`` began."""
        if self._closing:
            # Refused here, not queued: a request queued behind the host's
            # close may never be answered, and its task would wait forever.
            raise ValueError(f"{type(self).__name__} at {self._link.where} is closed; open it again to use it")
        holder = self._holder
        if holder is not None and holder is not asyncio.current_task():
            async with self._gate:
                pass
        return await self._link.call(name, *args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._link.where!r})"

    # -- the mapping -----------------------------------------------------------

    async def getitem(self, key: K) -> V:
        """A plain copy of the value of ``key`` (``KeyError`` if absent)."""
        return await self._call("__getitem__", key)  # type: ignore[no-any-return]

    async def get(self, key: K, default: Any = None) -> Any:
        """A plain copy of the value of ``key`` if present, else ``default``."""
        found, value = await self._call("get", key)
        return value if found else default

    async def setitem(self, key: K, value: V) -> None:
        """Store ``value`` (checked as JSON data first) under ``key``."""
        await self._call("__setitem__", key, unwrap(value))

    async def pop(self, key: K, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value, or ``default`` (``KeyError`` without one)."""
        if default is _MISSING:
            return await self._call("pop", key)
        return await self._call("pop", key, default)

    async def setdefault(self, key: K, default: Any = None) -> Any:
        """The value of ``key`` if present, else store ``default`` and return it."""
        return await self._call("setdefault", key, unwrap(default))

    async def update(self, other: Mapping[K, V] | Iterable[tuple[K, V]] = (), /, **kwargs: V) -> None:
        """Like ``dict.update``, in one call: every value is checked before any is stored."""
        pairs = [(key, unwrap(value)) for key, value in map(two, pairs_of(other))]
        await self._call("update", pairs, **kwargs)

    async def equals(self, other: Mapping[Any, Any]) -> bool:
        """Whether the stored mapping equals ``other``."""
        return await self._call("equals", {key: unwrap(value) for key, value in other.items()})  # type: ignore[no-any-return]

    async def copy(self) -> dict[K, V]:
        """A plain ``dict`` of the stored mapping, in insertion order (read ``CHUNK`` at a time)."""
        return {key: value async for key, value in self.items()}

    def changes(self) -> _Changes:
        """``async with pod.changes() as c:`` -- nested changes applied in one step.

        ``c`` records as ``shared.set`` does on a ``SharedPOD``
        (``c['k']['n'] += 1``, ``c['k']['tags'].append(x)``, ``c['k'] = v``);
        on leaving the block they are applied in order, in one step, and
        the block's end awaits that (nothing is applied if the block raised).
        """
        return _Changes(self)

    # -- walks -----------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[K]:
        return self.keys()

    async def keys(self) -> AsyncIterator[K]:
        """The keys in insertion order, fetched ``CHUNK`` at a time (``async for``)."""
        async for key in self._chunks("keys"):
            yield key

    async def items(self) -> AsyncIterator[tuple[K, V]]:
        """``(key, value)`` pairs in insertion order, fetched ``CHUNK`` at a time."""
        async for pair in self._chunks("items"):
            yield pair

    async def values(self) -> AsyncIterator[V]:
        """The values in insertion order, fetched ``CHUNK`` at a time."""
        async for _, value in self._chunks("items"):
            yield value

    async def _chunks(self, what: str) -> AsyncIterator[Any]:
        start = 0
        while True:
            chunk = await self._call(what, start, CHUNK)
            if not chunk:
                return
            for each in chunk:
                yield each
            start += len(chunk)

    # -- locking -----------------------------------------------------------------

    async def lock(self, timeout: float | None = None) -> bool:
        """Take the lock: the task's calls until ``unlock()`` run alone.

        The other tasks' calls on this object wait for it, and so does
        another process's ``lock()`` (with a server, its plain calls too).
        Reentrant in its task. False if ``timeout`` seconds passed first.
        """
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        began = loop.time()
        if self._holder is not task:
            if timeout is None or not self._gate.locked():
                await self._gate.acquire()  # free: taken at once (wait_for(..., 0) would refuse)
            else:
                try:
                    await asyncio.wait_for(self._gate.acquire(), timeout)
                except asyncio.TimeoutError:  # not yet the builtin one on Python 3.10
                    return False
            self._holder = task
        try:
            left = None if timeout is None else max(0.0, timeout - (loop.time() - began))
            taken = await self._link.call("lock", left)
        except BaseException:
            self._release_gate()
            raise
        if not taken:
            self._release_gate()
            return False
        self._depth += 1
        return True

    async def unlock(self) -> None:
        """Release the lock taken by ``lock()`` (RuntimeError if this task does not hold it)."""
        if self._holder is not asyncio.current_task() or not self._depth:
            raise RuntimeError(
                f"{type(self).__name__} at {self._link.where}: unlock() by a task that does not hold the lock"
            )
        try:
            await self._link.call("unlock")
        finally:
            self._depth -= 1
            self._release_gate()

    def _release_gate(self) -> None:
        if not self._depth:
            self._holder = None
            self._gate.release()

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[Self]:
        """``async with pod.locked():`` -- exclusive access for the block."""
        await self.lock()
        try:
            yield self
        finally:
            await self.unlock()

    # -- lifecycle ---------------------------------------------------------------

    async def aclose(self) -> None:
        """Sync and close (on a server: this object's connections); no thread or task is left."""
        self._closing = True  # claims given back from now on end with the host (see _end_claim)
        await self._link.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    if TYPE_CHECKING:  # set below from tastypy.operations

        async def delitem(self, key: K) -> None: ...
        async def contains(self, key: object) -> bool: ...
        async def length(self) -> int: ...
        async def popitem(self) -> tuple[K, V]: ...
        async def clear(self) -> None: ...
        async def sync(self) -> None: ...
        async def sync_key(self, key: K) -> None: ...
        async def mark_dirty(self, key: K) -> None: ...
        async def dirty(self) -> set[K]: ...
        async def hold(self) -> None: ...
        async def unhold(self) -> None: ...
        async def revert(self) -> None: ...


class _Changes:
    """The recorder of ``changes()``: its Op records, applied in one call on leaving."""

    def __init__(self, face: AsyncClientPOD[Any, Any]) -> None:
        self._face = face
        self._ops: list[Op] = []

    async def __aenter__(self) -> Recorder:
        return Recorder(self._ops.append)

    async def __aexit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None and self._ops:
            await self._face._call("apply_many", [tuple(op) for op in self._ops])


class AsyncClientTracker(AsyncClientPOD[K, R]):
    """A ProgressTracker reached through an async link; its work shared out.

    Many tasks each in their own ``async for key in t.try_keys():`` hold
    different keys, as threads and processes do on the sync faces.
    """

    #: How long a failed try waits before ``try_keys()`` hands its key out
    #: again (the ``backoff`` given when it was made; None: no wait).
    backoff: Any = None
    _max_tries = 0

    @property
    def max_tries(self) -> int:
        """The most tries of a task before it is no longer to do (0: no limit); read at open."""
        return self._max_tries

    async def add_many(self, keys: Iterable[K]) -> None:
        """Add every key; if any is present (or repeated), add none (``DuplicateKeyError``)."""
        await self._call("add_many", list(keys))

    async def add_many_if_absent(self, keys: Iterable[K]) -> int:
        """Add the keys not present yet; return how many were added."""
        return await self._call("add_many_if_absent", list(keys))  # type: ignore[no-any-return]

    async def retry(self, keys: Iterable[K]) -> int:
        """Put ``keys`` back to do: no tries, not aborted, due now, in one step; how many."""
        return await self._call("retry", list(keys))  # type: ignore[no-any-return]

    # -- shares (as ``tastypy.counts.Fractions``) ----------------------------------

    async def _fraction(self, count: int) -> float:
        total = await self.length()
        return count / total if total else 0.0

    async def _percent_not(self, count: int, decimals: int) -> str:
        total = await self.length()
        return percent((total - count) / total if total else 0.0, decimals)

    async def fraction_done(self) -> float:
        """``num_done() / length()``; 0.0 when empty."""
        return await self._fraction(await self.num_done())

    async def fraction_tried(self) -> float:
        """``num_tried() / length()``; 0.0 when empty."""
        return await self._fraction(await self.num_tried())

    async def fraction_aborted(self) -> float:
        """``num_aborted() / length()``; 0.0 when empty."""
        return await self._fraction(await self.num_aborted())

    async def percent_done(self, decimals: int = 2) -> str:
        """The share of done tasks, e.g. ``'34.70 %'``."""
        return percent(await self.fraction_done(), decimals)

    async def percent_not_done(self, decimals: int = 2) -> str:
        """The share of tasks not done; ``'0.00 %'`` when empty."""
        return await self._percent_not(await self.num_done(), decimals)

    async def percent_tried(self, decimals: int = 2) -> str:
        """The share of tasks tried at least once."""
        return percent(await self.fraction_tried(), decimals)

    async def percent_not_tried(self, decimals: int = 2) -> str:
        """The share of tasks never tried; ``'0.00 %'`` when empty."""
        return await self._percent_not(await self.num_tried(), decimals)

    async def percent_aborted(self, decimals: int = 2) -> str:
        """The share of aborted tasks."""
        return percent(await self.fraction_aborted(), decimals)

    async def percent_not_aborted(self, decimals: int = 2) -> str:
        """The share of tasks not aborted; ``'0.00 %'`` when empty."""
        return await self._percent_not(await self.num_aborted(), decimals)

    # -- walks -----------------------------------------------------------------

    async def _scan(self, test: str, allow_aborted: bool, values: bool) -> AsyncIterator[Any]:
        start = 0
        while True:
            found, start, end = await self._call("scan", start, CHUNK, test, allow_aborted, values)
            for each in found:
                yield each
            if end:
                return

    def todo_keys(self, allow_aborted: bool = False) -> AsyncIterator[K]:
        """The keys to do (see ``should_do``), in insertion order (``async for``)."""
        return self._scan("todo", allow_aborted, False)

    def todo_items(self, allow_aborted: bool = False) -> AsyncIterator[tuple[K, R]]:
        """``(key, record)`` of ``todo_keys()``."""
        return self._scan("todo", allow_aborted, True)

    async def todo_values(self, allow_aborted: bool = False) -> AsyncIterator[R]:
        """The records of ``todo_keys()``."""
        async for _, value in self._scan("todo", allow_aborted, True):
            yield value

    def aborted_keys(self) -> AsyncIterator[K]:
        """The aborted keys, in insertion order."""
        return self._scan("aborted", False, False)

    def aborted_items(self) -> AsyncIterator[tuple[K, R]]:
        """``(key, record)`` of ``aborted_keys()``."""
        return self._scan("aborted", False, True)

    async def aborted_values(self) -> AsyncIterator[R]:
        """The records of ``aborted_keys()``."""
        async for _, value in self._scan("aborted", False, True):
            yield value

    # -- shared work -------------------------------------------------------------

    async def _work(self, allow_aborted: bool, values: bool, max_wait: float | None) -> AsyncIterator[Any]:
        # The async twin of tastypy.work.loop: the same host calls, asyncio's sleep.
        task = next_loop()
        start, waited = 0, 0.0
        try:
            while True:
                got = await self._call("next", task, start, allow_aborted, values)
                if got is None:
                    return
                key, start, value = got
                if key is None:
                    if max_wait is not None and waited + value > max_wait:
                        return
                    nap = min(value, NAP)
                    await asyncio.sleep(nap)
                    waited += nap
                    continue
                yield (key, value) if values else key
        finally:
            # Also after cancellation, or when the loop is dropped unfinished.
            await self._end_claim("drop", task)

    def try_keys(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> AsyncIterator[K]:
        """Keys to try, each with its try counted: ``async for key in t.try_keys():``.

        Each call is one loop, a claim of its own: it is handed the next
        key that should be tried and that no other loop (task, thread or
        process) is on. The claim ends when the loop asks for its next key,
        the key is marked done or aborted, or the loop ends (finished,
        broken out of, raised or cancelled). When only keys waiting for
        their ``_retry_at`` are left, the loop sleeps (``asyncio.sleep``)
        until the first is due, at most ``max_wait`` seconds in all.

        ``progress=True`` shows the tqdm bar of ``ProgressTracker.try_keys``:
        the tracker's done keys (so every loop's work), tried and aborted
        beside; give it to one loop of many. ``ImportError`` at once
        without tqdm.
        """
        return self._bar(self._work(allow_aborted, False, max_wait), progress)

    def try_items(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> AsyncIterator[tuple[K, R]]:
        """``(key, record)`` of ``try_keys()`` (the record a plain copy)."""
        return self._bar(self._work(allow_aborted, True, max_wait), progress)

    def try_values(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> AsyncIterator[R]:
        """The records of ``try_keys()``."""
        return _second(self.try_items(allow_aborted, progress, max_wait=max_wait))

    def _bar(self, loop: AsyncIterator[_T], progress: bool) -> AsyncIterator[_T]:
        if not progress:
            return loop
        from tastypy.progress import async_bar_over

        return async_bar_over(loop, self)

    async def _end_claim(self, name: str, *args: Any) -> None:
        """Give a claim back (``drop`` a loop's, ``give_back`` an attempt's) and wait for it.

        Awaited, so the task's next call sees the key free, on a link of
        many threads too. The request is queued before the first wait, so
        it runs even if the task is cancelled (again) meanwhile. Once
        ``aclose()`` began (e.g. Ctrl-C: ``asyncio.run`` closes the object,
        then cancels the tasks and closes their loops) nothing is sent: the
        claim ends with the host (its close, the connection, or the lease),
        as on the sync faces, and no task waits on a host that is gone.
        """
        if self._closing or self._link.closed:
            return
        with contextlib.suppress(ValueError, ConnectionError):
            await self._link.call(name, *args)

    # -- attempts -----------------------------------------------------------------

    def attempt(self, key: K, *, retry_after: float | None = None, reraise: bool = False) -> AsyncAttempt:
        """``async with t.attempt(key) as a:`` -- one try of ``key``, as ``Tracker.attempt``.

        Done when the block ends; on an ``Exception`` the failure is recorded
        (``_error``), aborted at ``max_tries`` or scheduled after the
        backoff (``_retry_at``), and not raised again unless ``reraise``.
        Cancellation, ``KeyboardInterrupt`` and ``SystemExit`` are no
        failure: the try is given back.
        """
        return AsyncAttempt(self, key, retry_after, reraise)

    async def mark_failed(self, key: K, error: BaseException, *, retry_after: float | None = None) -> None:
        """Record that the last try of ``key`` failed with ``error``, as ``attempt()`` does."""
        if not isinstance(error, BaseException):
            raise TypeError(f"mark_failed({key!r}, error): error must be an exception, not {error!r}")
        wait = None if retry_after is None else _seconds(retry_after, "retry_after")
        await self._failed(key, error, wait)

    async def _failed(self, key: K, error: BaseException, retry_after: float | None) -> None:
        info = error_info(error)
        if retry_after is None:
            retry_after = delay(self.backoff, await self._call("tries", key), info)
        await self._call("fail", key, info, retry_after)

    if TYPE_CHECKING:  # set below from tastypy.operations

        async def add(self, key: K) -> None: ...
        async def add_if_absent(self, key: K) -> bool: ...
        async def mark_done(self, key: K, *, revisit_after: float | None = None) -> None: ...
        async def mark_not_done(self, key: K) -> None: ...
        async def done(self, key: K) -> bool: ...
        async def abort(self, key: K) -> None: ...
        async def unabort(self, key: K) -> None: ...
        async def aborted(self, key: K) -> bool: ...
        async def increment_tries(self, key: K) -> None: ...
        async def decrement_tries(self, key: K) -> None: ...
        async def reset_tries(self, key: K) -> None: ...
        async def tries(self, key: K) -> int: ...
        async def should_do(self, key: K, allow_aborted: bool = False) -> bool: ...
        async def should_do_add(self, key: K, allow_aborted: bool = False) -> bool: ...
        async def should_try(self, key: K, allow_aborted: bool = False) -> bool: ...
        async def should_try_add(self, key: K, allow_aborted: bool = False) -> bool: ...
        async def num_done(self) -> int: ...
        async def num_tried(self) -> int: ...
        async def num_aborted(self) -> int: ...
        async def num_waiting(self) -> int: ...
        async def next_due(self) -> float | None: ...


async def _second(pairs: AsyncIterator[tuple[Any, _T]]) -> AsyncIterator[_T]:
    async with contextlib.aclosing(pairs):  # type: ignore[type-var]
        async for _, value in pairs:
            yield value


class AsyncAttempt:
    """One try of a task: ``async with tracker.attempt(key) as attempt:``.

    As ``tastypy.failures.Attempt``: on entry the try is counted (unless a
    ``try_*()`` loop handed the key out) and ``attempt.record`` is a copy of
    the record; the block's end marks the key done, records an
    ``Exception`` as its failure, or gives the try back on cancellation.
    """

    def __init__(
        self, tracker: AsyncClientTracker[Any, Any], key: Any, retry_after: float | None, reraise: bool
    ) -> None:
        self.key = key
        #: Seconds to wait before the next try if this one fails (None: the backoff's).
        self.retry_after = None if retry_after is None else _seconds(retry_after, "retry_after")
        self.reraise = reraise
        self.record: Any = None
        #: The exception this attempt recorded as its failure, if any.
        self.error: BaseException | None = None
        self._tracker = tracker

    async def __aenter__(self) -> Self:
        self.record = await self._tracker._call("begin", self.key)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        tracker = self._tracker
        if kind is None:
            await tracker.mark_done(self.key)
            return False
        if not isinstance(error, Exception):
            await tracker._end_claim("give_back", self.key)
            return False
        self.error = error
        await tracker._failed(self.key, error, self.retry_after)
        return not self.reraise


def _forward(cls: type[Any], name: str, model: type[Any]) -> Callable[..., Any]:
    async def call(self: AsyncClientPOD[Any, Any], *args: Any, **kwargs: Any) -> Any:
        return await self._call(name, *args, **kwargs)

    method = getattr(model, name)
    call.__name__ = ASYNC_NAMES.get(name, name)
    call.__qualname__ = f"{cls.__name__}.{call.__name__}"
    call.__doc__ = f"Awaitable ``{model.__name__}.{name}``: {(method.__doc__ or '').strip()}"
    functools.update_wrapper(call, method, assigned=("__module__",), updated=())
    return call


def _forward_plain(cls: type[Any], tracker: bool, model: type[Any]) -> None:
    """One coroutine per plain operation (``tastypy.operations``) that ``cls`` does not write out."""
    for name in plain(tracker):
        if ASYNC_NAMES.get(name, name) not in vars(cls):
            setattr(cls, ASYNC_NAMES.get(name, name), _forward(cls, name, model))


_forward_plain(AsyncClientPOD, False, PersistentOrderedDict)
_forward_plain(AsyncClientTracker, True, ProgressTracker)
