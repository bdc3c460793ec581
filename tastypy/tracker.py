"""``ProgressTracker`` (``Tracker``): a POD of task records for jobs that resume.

Every value is a record ``{'_done': bool, '_tries': int, '_aborted': bool,
...the user's own fields}``. The counters behind ``num_done()``,
``num_tried()`` and ``num_aborted()`` are kept per folder in a ``TaskOrder`` and
adjusted in the POD hook ``_changed(key)``, which runs after *any* change of a
key (a method, ``tracker[k] = {...}``, a proxy, ``del``), and recounted in
``_reloaded()``: no method has to remember to keep them right.

Iteration for work (``todo_*``, ``try_*``) goes by *position* over a live key
order rather than over a snapshot, so a loop reaches keys added while it runs
and passes over keys deleted while it runs. Each ``try_*`` loop is a claim
(``work.Work``): loops in different threads never hold the same key at once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tastypy import pod
from tastypy.counts import Fractions, R
from tastypy.errors import DuplicateKeyError
from tastypy.failures import ERROR, RETRY_AT, Failures, _seconds, check_backoff
from tastypy.keys import K
from tastypy.observe import WRITABLE, check_key, unwrap
from tastypy.order import TaskOrder
from tastypy.pod import _UNREAD, PersistentOrderedDict
from tastypy.records import (
    ABORTED,
    DEFAULTS,
    DONE,
    RECORD_PROXY_TYPES,
    bits_of,
    bits_of_texts,
    normal_record,
    record_problem,
)
from tastypy.work import LOCAL, NAP, Work, loop, next_loop

if TYPE_CHECKING:
    #: ``(skip, need, test)``: what a record passes (see ``ProgressTracker._first``).
    _Rule = tuple[int, int, Callable[[Any], bool] | None]

_MISSING = object()


class _ClosedState:
    def __init__(self, path: Any) -> None:
        self._path = path

    def __getattr__(self, name: str) -> Any:
        raise ValueError(f"Tracker at {self._path} is closed; open it again to use it")


class ProgressTracker(Failures, Fractions, PersistentOrderedDict[K, R]):
    """A POD of task records that tells what is left to do, across restarts.

    Each value is a dict with ``_done`` (False), ``_tries`` (0), ``_aborted``
    (False) and any fields of the user's. A task should be done while it is
    not done, not aborted (unless ``allow_aborted``) and, when ``max_tries``
    is not 0, tried fewer than ``max_tries`` times. ``try_*`` and
    ``should_try`` count a try and write it to disk before handing the task
    out (unless ``hold()`` is on), so a crash never lets a task be tried more
    than ``max_tries`` times.

    Threads may share one tracker: each call is atomic, and each ``try_*()``
    loop is a claim, as on a ``SharedTracker``: loops in different threads
    never hold the same key at once.

    :param path: the folder (``str`` or ``os.PathLike``, ``~`` expanded),
        created with its parents if missing.
    :param max_tries: the most tries of a task; 0 for no limit.
    :param init: a mapping or an iterable of ``(key, record)`` pairs, merged
        as by ``update()``; a record may hold only some fields (``{}`` too).
    :param gzipped: write shard files gzipped (``N.json.gz``). An existing
        folder keeps the format it was made with.
    :param file_size: about how many entries go in one shard file.
    :param sync_at: write to disk once this many keys are dirty (tries are
        written at once by ``try_*()`` and ``should_try()``, unless held).
    :param mode: ``'w'`` to write (one process at a time), ``'r'`` to read
        the last completed sync; any change then raises ``ReadOnlyError``.
    :param backoff: how long a failed try (``attempt()``, ``mark_failed()``)
        waits before ``try_keys()`` hands its key out again: seconds, a list
        of seconds by try number (the last repeats),
        ``tastypy.exponential(first, cap)``, or ``f(tries, error)``
        returning seconds; ``None`` (the default): no wait.
    :raises ValueError: the folder is open in this process with other
        options, an option is out of range, or a value is not a task record.
    :raises LockedError: another process writes the folder.
    :raises IntegrityError: a file of the folder is damaged.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_tries: int = 0,
        init: Mapping[K, Mapping[str, Any]] | Iterable[tuple[K, Mapping[str, Any]]] | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        mode: str = "w",
        backoff: Any = None,
    ) -> None:
        with pod._opening:  # as POD.__init__: one opener of the folder at a time
            try:
                if type(max_tries) is not int or max_tries < 0:
                    raise ValueError(f"max_tries must be an int >= 0 (0: no limit), not {max_tries!r}")
                backoff = check_backoff(backoff)
                if "_store" in self.__dict__:  # reopened: the options must match
                    self._check_same(max_tries=max_tries)
                    if backoff is not None and backoff != self.backoff:
                        self._check_same(backoff=backoff)
                else:
                    self.max_tries = max_tries
                    self.backoff = backoff
            except BaseException:
                self._forget_unopened((pod.folder_path(path), mode == "r"))
                raise
            super().__init__(path, None, gzipped, file_size, sync_at, mode=mode)
        # Outside the opening lock: update() takes the tracker's own lock.
        # Partial records are fine here: update() merges them.
        self._fill(init)

    # -- the POD hooks -------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        return {**super()._options(), "max_tries": self.max_tries, "backoff": self.backoff}

    #: The clock of due times: Unix seconds (they are stored, and must mean
    #: the same after a restart).
    _now = staticmethod(time.time)

    def _open(self, path: Any, read_only: bool, gzipped: bool, file_size: int) -> None:
        self._order = TaskOrder()  # before the load, which calls _reloaded()
        self._work = Work(self)
        super()._open(path, read_only, gzipped, file_size)
        if self._proxy_types is WRITABLE:
            self._proxy_types = RECORD_PROXY_TYPES

    def _normal(self, key: Any, value: Any) -> dict[str, Any]:
        return normal_record(key, value)

    def _changed(self, key: Any) -> None:
        record = self._data.get(key, _MISSING)
        if record is _MISSING:
            self._order.remove(key)
        elif record is not _UNREAD:  # marked dirty unread: its state is as read
            self._order.set(key, bits_of(record))
            self._order.set_due(key, _due(record))

    def _reloaded(self) -> None:
        # The state of each record comes from its first fields, read without
        # decoding it; a record that does not start with them is decoded now.
        bits: list[Any] = []  # int, or None until filled in below
        for texts in self._store.texts():
            bits += bits_of_texts(texts)
        keys = list(self._data)
        if None in bits:
            for n, key in enumerate(keys):
                if bits[n] is None:
                    bits[n] = bits_of(self._plain(key))
        if len(self._order):
            self._order.rebuild(zip(keys, bits))
        else:
            self._order.start(keys, bits)
        # Due times: only the records that mention one are parsed (and not
        # kept: a record is decoded and checked when it is first read).
        for key, text in self._store.items():
            if '"_retry_at"' in text:
                self._order.set_due(key, _due(json.loads(text)))

    def _decoded(self, key: Any, value: Any) -> None:
        # Before the value is kept: a bad record stays unread, refused each time.
        problem = record_problem(key, value)
        if problem:
            raise ValueError(
                f"{self._store.path} cannot be opened as a Tracker: key {key!r} "
                f"{problem}. Open it as a tastypy.POD instead, or give every value "
                "the fields _done (bool), _tries (int >= 0) and _aborted (bool)"
            )
        if key in self._order:  # read after the open: its first fields told its state
            self._order.set(key, bits_of(value))
            self._order.set_due(key, _due(value))

    def close(self) -> None:
        """Sync, and release the folder once no object of this process uses it."""
        super().close()
        if self._users <= 0:
            self._order = _ClosedState(self._store.path)  # type: ignore[assignment]

    # -- adding --------------------------------------------------------------

    def add(self, key: K) -> None:
        """Add ``key`` as a new task (not done, 0 tries, not aborted).

        Raises ``DuplicateKeyError`` (a ``KeyError``) if ``key`` is present.
        """
        self._writable()
        check_key(key)
        with self._lock:
            if key in self._data:
                raise DuplicateKeyError(self._duplicate(key))
            self._set_normal(key, dict(DEFAULTS))

    def add_if_absent(self, key: K) -> bool:
        """Add ``key`` unless present; return True when it was added."""
        self._writable()
        check_key(key)
        with self._lock:
            if key in self._data:
                return False
            self._set_normal(key, dict(DEFAULTS))
            return True

    def add_many(self, keys: Iterable[K]) -> None:
        """Add every key; if any is present (or repeated), add none.

        Raises ``DuplicateKeyError`` naming the first duplicate.
        """
        self._writable()
        keys = list(keys)
        seen: set[K] = set()
        with self._lock:
            for key in keys:
                check_key(key)
                if key in self._data or key in seen:
                    raise DuplicateKeyError(self._duplicate(key) + "; nothing was added")
                seen.add(key)
            self._add_all(keys)

    def add_many_if_absent(self, keys: Iterable[K]) -> int:
        """Add the keys not present yet; return how many were added."""
        self._writable()
        keys = list(keys)
        new: dict[K, None] = {}
        with self._lock:
            data = self._data
            for key in keys:
                check_key(key)
                if key not in data:
                    new[key] = None
            self._add_all(new)
        return len(new)

    def _add_all(self, keys: Iterable[K]) -> None:
        with self._held_then_synced():
            for key in keys:
                self._set_normal(key, dict(DEFAULTS))

    def _duplicate(self, key: Any) -> str:
        return (
            f"{key!r} is already in the tracker at {self._store.path}; "
            "use add_if_absent() or add_many_if_absent() to skip present keys"
        )

    # A tracker merges each (partial) record into the key's: any fields will do.
    def update(  # type: ignore[override]
        self,
        other: Mapping[K, Mapping[str, Any]] | Iterable[tuple[K, Mapping[str, Any]]] = (),
        /,
        **kwargs: Mapping[str, Any],
    ) -> None:
        """Merge each given dict into the record of its key, adding absent keys.

        Every value is checked before any record changes.
        """
        self._writable()
        items = pod.pairs_of(other)
        with self._lock:  # merged with the records as they are, then stored, in one step
            self._merge([*items, *kwargs.items()])

    def _merge(self, pairs: list[Any]) -> None:
        merged: dict[Any, Any] = {}
        for pair in pairs:
            key, value = pod.two(pair)
            check_key(key)
            value = unwrap(value)
            if not isinstance(value, dict):
                self._normal(key, value)  # raises the TypeError that names the key
            base = merged.get(key, _MISSING)
            if base is _MISSING:
                base = self._plain(key) if key in self._data else {}
            merged[key] = {**base, **value}
        super().update(merged)

    # -- one task ------------------------------------------------------------

    def _record(self, key: K, alone: bool = False) -> dict[str, Any]:
        try:
            return self._plain(key, alone)  # type: ignore[no-any-return]  # a record is a dict (checked when read)
        except KeyError:
            raise KeyError(
                f"{key!r} is not in the tracker at {self._store.path}; add it first "
                "with add() (or use should_do_add() / should_try_add())"
            ) from None
        except TypeError:
            check_key(key)
            raise

    def _set(self, key: K, field: str, value: Any) -> None:
        # (under the lock: callers read the record first)
        self._writable()
        record = self._record(key)
        if record[field] != value:
            record[field] = value
            self.mark_dirty(key)  # -> _changed(key): the counters follow

    def mark_done(self, key: K, *, revisit_after: float | None = None) -> None:
        """Mark ``key`` done (a ``try_*()`` loop on it no longer holds it).

        Its ``_error`` goes. With ``revisit_after`` (seconds), the key comes
        due again then: ``try_keys()`` hands it out as a new task, not done
        and with its tries from 0 (an incremental crawl's revisit).
        """
        at = None if revisit_after is None else self._now() + _seconds(revisit_after, "revisit_after")
        with self._lock:
            self._writable()
            record = self._record(key)
            old = (record["_done"], record.get(ERROR, _MISSING), record.get(RETRY_AT, _MISSING))
            record["_done"] = True
            record.pop(ERROR, None)
            record.pop(RETRY_AT, None)
            if at is not None:
                record[RETRY_AT] = at
            if old != (True, _MISSING, _MISSING) or at is not None:
                self.mark_dirty(key)
            self._work.release_key(key)

    def mark_not_done(self, key: K) -> None:
        """Mark ``key`` not done."""
        with self._lock:
            self._set(key, "_done", False)

    def done(self, key: K) -> bool:
        """Whether ``key`` is done; False for an absent key."""
        with self._lock:
            return key in self._data and bool(self._order.bits(key) & DONE)

    def abort(self, key: K) -> None:
        """Mark ``key`` aborted: ``todo_*``/``try_*`` pass over it unless ``allow_aborted``
        (a ``try_*()`` loop on it no longer holds it)."""
        with self._lock:
            self._set(key, "_aborted", True)
            self._work.release_key(key)

    def unabort(self, key: K) -> None:
        """Mark ``key`` not aborted."""
        with self._lock:
            self._set(key, "_aborted", False)

    def aborted(self, key: K) -> bool:
        """Whether ``key`` is aborted; False for an absent key."""
        with self._lock:
            return key in self._data and bool(self._order.bits(key) & ABORTED)

    def tries(self, key: K) -> int:
        """How many times ``key`` was tried (``KeyError`` if absent)."""
        with self._lock:
            return self._record(key)["_tries"]  # type: ignore[no-any-return]  # an int (check_field)

    def increment_tries(self, key: K) -> None:
        """Count one more try of ``key``."""
        with self._lock:
            self._set(key, "_tries", self._record(key)["_tries"] + 1)

    def decrement_tries(self, key: K) -> None:
        """Count one try less of ``key``; ``ValueError`` if it has none."""
        with self._lock:
            tries = self._record(key)["_tries"]
            if tries == 0:
                raise ValueError(f"tracker[{key!r}] has 0 tries: there is no try to take back")
            self._set(key, "_tries", tries - 1)

    def reset_tries(self, key: K) -> None:
        """Set the tries of ``key`` back to 0."""
        with self._lock:
            self._set(key, "_tries", 0)

    def _todo(self, allow_aborted: bool) -> _Rule:
        """What a task to do is (see ``_first``): not done, not aborted unless
        ``allow_aborted``, and tried fewer than ``max_tries`` times."""
        max_tries = self.max_tries
        skip = DONE if allow_aborted else DONE | ABORTED
        if max_tries == 0:
            return skip, 0, None
        return skip, 0, lambda record: record["_tries"] < max_tries

    def should_do(self, key: K, allow_aborted: bool = False) -> bool:
        """Whether ``key`` is to do: not done, not aborted (unless
        ``allow_aborted``) and tried fewer than ``max_tries`` times (when not 0).
        ``KeyError`` if absent."""
        skip, _, test = self._todo(allow_aborted)
        with self._lock:
            record = self._record(key)
            return not self._order.bits(key) & skip and (test is None or test(record))

    def should_do_add(self, key: K, allow_aborted: bool = False) -> bool:
        """``should_do``, adding ``key`` first if it is absent."""
        with self._lock:
            self.add_if_absent(key)
            return self.should_do(key, allow_aborted)

    def should_try(self, key: K, allow_aborted: bool = False) -> bool:
        """``should_do``; when True, also count a try (written to disk unless held)."""
        with self._lock:
            if not self.should_do(key, allow_aborted):
                return False
            self._tried(key)
            return True

    def should_try_add(self, key: K, allow_aborted: bool = False) -> bool:
        """``should_try``, adding ``key`` first if it is absent."""
        with self._lock:
            self.add_if_absent(key)
            return self.should_try(key, allow_aborted)

    # -- attempts (``Failures`` builds attempt() and mark_failed() on these) ----

    def _begin(self, key: K) -> R:
        """An attempt starts: count its try, unless a ``try_*()`` loop handed
        ``key`` out (and counted it); the record, as read."""
        with self._lock:
            if key not in self._work.owners:
                self._record(key)  # KeyError if absent
                self._tried(key)
            return self[key]

    def _fail(self, key: K, info: dict[str, Any], wait: float) -> None:
        """The last try of ``key`` failed (``info``: ``_error`` without ``at``)."""
        with self._lock:
            self._writable()
            record = self._record(key)
            now = self._now()
            record[ERROR] = {
                "type": info["type"],
                "message": info["message"],
                "at": now,
                "traceback": info["traceback"],
            }
            record.pop(RETRY_AT, None)
            if self.max_tries and record["_tries"] >= self.max_tries:
                record["_aborted"] = True
            elif wait > 0:
                record[RETRY_AT] = now + wait
            # The try is over: no loop is on the key now (it goes to whichever
            # loop asks once it is due).
            self._work.release_key(key)
            self.mark_dirty(key)

    def _give_back(self, key: K) -> None:
        """An attempt was interrupted (Ctrl-C, exit, cancellation): not a
        failure; its try is taken back and its claim ends."""
        with self._lock:
            record = self._record(key)
            if record["_tries"] > 0:
                self._set(key, "_tries", record["_tries"] - 1)
            self._work.release_key(key)

    def retry(self, keys: Iterable[K]) -> int:
        """Put ``keys`` back to do: no tries, not aborted, due now (their last
        ``_error`` stays until their next try), in one step; how many.

        ``tastypy retry`` chooses the keys by their error. Raises ``KeyError``
        for an absent key, and then changes nothing.
        """
        self._writable()
        keys = list(keys)
        with self._lock:
            records = [self._record(key, alone=True) for key in keys]
            with self._held_then_synced():
                for key, record in zip(keys, records):
                    record["_tries"] = 0
                    record["_aborted"] = False
                    record.pop(RETRY_AT, None)
                    self.mark_dirty(key)
        return len(keys)

    # -- due times ---------------------------------------------------------------

    def num_waiting(self) -> int:
        """How many tasks to do wait for their ``_retry_at`` (a failed try's backoff)."""
        with self._lock:
            now = self._now()
            skip, _, test = self._todo(False)
            return sum(
                1
                for key, at in self._order.due.items()
                if at > now and not self._order.bits(key) & skip and (test is None or test(self._plain(key)))
            )

    def next_due(self) -> float | None:
        """The earliest ``_retry_at`` (Unix time) of a task to do or to revisit, or None."""
        with self._lock:
            found = self._order.earliest()
            return None if found is None else found[0]

    def _due_to_try(self, now: float, allow_aborted: bool, skip: Any) -> K | None:
        """Hand out a key whose ``_retry_at`` came (counting its try), or None.

        A done key that came due (a revisit) becomes a new task first: not
        done, no tries. Keys in ``skip`` (held by loops) are passed over.
        """
        order = self._order
        held: list[Any] = []
        try:
            return self._first_due_key(now, allow_aborted, skip, held)
        finally:
            for key in held:  # due, but a loop is on it: due for the next that asks after
                order.keep_due(key)

    def _first_due_key(self, now: float, allow_aborted: bool, skip: Any, held: list[Any]) -> K | None:
        order = self._order
        while (key := order.pop_due(now)) is not None:
            if key not in self._data:
                continue
            if key in skip:
                held.append(key)
                continue
            record = self._record(key)
            if record["_aborted"] and not allow_aborted:
                continue
            if record["_done"]:
                record["_done"] = False
                record["_tries"] = 0
            record.pop(RETRY_AT, None)
            self.mark_dirty(key)
            if self.should_do(key, allow_aborted):
                self._tried(key)
                return key  # type: ignore[no-any-return]  # (the order holds keys as Any)
        return None

    def _wait_for_due(self, now: float, allow_aborted: bool, held: Any = ()) -> float | None:
        """Seconds until the first key waiting for its ``_retry_at`` comes due, or None.

        A due key that a loop holds (``held``) is not waited for as if it were
        free: a loop asks again after ``work.NAP`` at the soonest.
        """
        order = self._order
        while (found := order.earliest()) is not None:
            at, key = found
            record = self._record(key)
            if not (record["_aborted"] and not allow_aborted) and (
                record["_done"] or self.should_do(key, allow_aborted)
            ):
                return max(at - now, NAP) if key in held else max(0.0, at - now)
            order.set_due(key, None)  # never handed out as it is: no loop waits for it
        return None

    def _tried(self, key: K) -> None:
        # The try must be on disk before the work starts: after a crash the
        # task is then never tried more than max_tries times. The same sync
        # writes the done mark of the previous task.
        self.increment_tries(key)
        if not self._held:
            self.sync()

    # -- iteration by position -----------------------------------------------

    def _first(self, start: int, rule: _Rule) -> tuple[K, int] | None:
        """``(key, position)`` of the first live key at ``start`` or later that
        passes ``rule``, or None. A rule is ``(skip, need, test)``: a record
        passes with none of the state bits ``skip``, all of ``need`` and (if
        ``test`` is not None) ``test(record)``. The bits come first: a record
        they rule out is not even read."""
        return self._first_due(start, rule, None)

    def _first_due(self, start: int, rule: _Rule, now: float | None) -> tuple[K, int] | None:
        """``_first``, also passing over keys not due at ``now`` (given)."""
        skip, need, test = rule
        with self._lock:
            if test is None:
                return self._order.first(start, _anything, skip, need, now)
            plain = self._plain
            return self._order.first(start, lambda key: test(plain(key)), skip, need, now)

    def _next_to_try(
        self, start: int, allow_aborted: bool = False, skip: Any = (), now: float | None = None
    ) -> tuple[K, int] | None:
        """Hand out the next task at position ``start`` or later, as ``(key, position)``.

        Counts the try (written to disk unless held) and returns it, or None when
        nothing is left. Pass ``position + 1`` as the next ``start``. Keys in
        ``skip`` are passed over (a server's keys in the hands of other workers),
        and given ``now``, keys whose ``_retry_at`` is later.
        """
        todo = self._todo(allow_aborted)
        found = self._first_due(start, todo, now)
        while found is not None and found[0] in skip:
            found = self._first_due(found[1] + 1, todo, now)
        if found is not None:
            self._tried(found[0])
        return found

    def _keys_passing(self, rule: _Rule) -> Iterator[K]:
        """A live walk over the keys whose record passes ``rule`` (see ``_first``)."""
        start = 0
        while (found := self._first(start, rule)) is not None:
            yield found[0]
            start = found[1] + 1

    def todo_keys(self, allow_aborted: bool = False) -> Iterator[K]:
        """The keys to do (see ``should_do``), in insertion order.

        A live walk: keys added during the loop are reached, keys deleted
        during it are passed over.
        """
        return self._keys_passing(self._todo(allow_aborted))

    def todo_items(self, allow_aborted: bool = False) -> Iterator[tuple[K, R]]:
        """``(key, record)`` of ``todo_keys()``."""
        return ((key, self[key]) for key in self.todo_keys(allow_aborted))

    def todo_values(self, allow_aborted: bool = False) -> Iterator[R]:
        """The records of ``todo_keys()``."""
        return (self[key] for key in self.todo_keys(allow_aborted))

    def try_keys(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> Iterator[K]:
        """Like ``todo_keys()``, counting a try of each key before yielding it.

        One pass in insertion order that also reaches keys added during the
        loop; a task that fails stays to do for the next loop (or run), until
        ``max_tries``. A key waiting for its ``_retry_at`` (a failure's
        backoff, a revisit) is handed out once it comes due; when only such
        keys are left, the loop sleeps until the first is due, at most
        ``max_wait`` seconds in all (None: as long as it takes; 0: it ends).
        Each try is on disk before the key is yielded (unless ``hold()`` is
        on). Each loop is a claim: no other loop holds its key meanwhile.
        ``progress=True`` shows a tqdm bar of the done keys (``ImportError``
        at once if tqdm is missing).
        """
        keys = (key for key, _ in self._claimed(allow_aborted, max_wait))
        if progress:
            from tastypy.progress import bar_over

            return bar_over(keys, self)
        return keys

    def _claimed(self, allow_aborted: bool, max_wait: float | None) -> Iterator[tuple[K, None]]:
        """A loop of this process: ``work.loop`` over this tracker's own ``Work``."""
        task = next_loop()

        def ask(start: int) -> Any:
            with self._lock:
                return self._work.next(LOCAL, task, start, allow_aborted, False)

        def end() -> None:
            with self._lock:
                self._work.end((LOCAL, task))

        return loop(ask, end, max_wait)

    def try_items(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> Iterator[tuple[K, R]]:
        """``(key, record)`` of ``try_keys()``."""
        return ((key, self[key]) for key in self.try_keys(allow_aborted, progress, max_wait=max_wait))

    def try_values(
        self, allow_aborted: bool = False, progress: bool = False, *, max_wait: float | None = None
    ) -> Iterator[R]:
        """The records of ``try_keys()``."""
        return (self[key] for key in self.try_keys(allow_aborted, progress, max_wait=max_wait))

    def aborted_keys(self) -> Iterator[K]:
        """The aborted keys, in insertion order (a live walk like ``todo_keys``)."""
        return self._keys_passing((0, ABORTED, None))

    def aborted_items(self) -> Iterator[tuple[K, R]]:
        """``(key, record)`` of ``aborted_keys()``."""
        return ((key, self[key]) for key in self.aborted_keys())

    def aborted_values(self) -> Iterator[R]:
        """The records of ``aborted_keys()``."""
        return (self[key] for key in self.aborted_keys())

    # -- counts (``Fractions`` derives the shares) -------------------------------

    def num_done(self) -> int:
        """How many tasks are done (O(1))."""
        return self._order.done

    def num_tried(self) -> int:
        """How many tasks were tried at least once (O(1))."""
        return self._order.tried

    def num_aborted(self) -> int:
        """How many tasks are aborted (O(1))."""
        return self._order.aborted


def _anything(key: Any) -> bool:
    return True


def _due(record: dict[str, Any]) -> float | None:
    """A record's ``_retry_at`` if it is a number (one set by hand may be anything)."""
    at = record.get(RETRY_AT)
    return float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None


Tracker = ProgressTracker
