"""``ProgressTracker`` (``Tracker``): a POD of task records for jobs that resume.

Every value is a record ``{'_done': bool, '_tries': int, '_aborted': bool,
...the user's own fields}``. The counters behind ``num_done()``,
``num_tried()`` and ``num_aborted()`` are kept per folder in ``_State`` and
adjusted in the POD hook ``_changed(key)``, which runs after *any* change of a
key (a method, ``tracker[k] = {...}``, a proxy, ``del``), and recounted in
``_reloaded()``: no method has to remember to keep them right.

Iteration for work (``todo_*``, ``try_*``) goes by *position* over a live key
order rather than over a snapshot, so a loop reaches keys added while it runs
and passes over keys deleted while it runs.
"""

from __future__ import annotations

import contextlib
import os
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Callable

from tastypy.errors import DuplicateKeyError
from tastypy.observe import WRITABLE, check_key, normalize, unwrap
from tastypy.pod import PersistentOrderedDict
from tastypy.records import (
    ABORTED,
    DEFAULTS,
    DONE,
    RECORD_KINDS,
    TRIED,
    bits_of,
    check_field,
    record_problem,
)

_MISSING = object()

#: Dead slots tolerated in the key order before it is rebuilt (amortized O(1)).
_SLACK = 64


class _State:
    """The counts and the key order of one tracker.

    ``entries`` maps each key to ``(position, bits)``. Positions grow with
    insertion and never change while the key lives, so a loop (or a server
    client) can hold one across calls; ``positions``/``keys`` list them in
    order, with dead slots of deleted keys skipped and cleaned up in bulk.
    """

    def __init__(self) -> None:
        self.entries: dict = {}
        self.positions: list = []
        self.keys: list = []
        self.next = 0
        self.done = self.tried = self.aborted = 0

    def count(self, bits: int, sign: int) -> None:
        if bits & DONE:
            self.done += sign
        if bits & TRIED:
            self.tried += sign
        if bits & ABORTED:
            self.aborted += sign

    def rebuild(self, data: dict) -> None:
        """Recount ``data``, keeping the positions of keys already known where
        the order allows it, so that a loop running across a ``revert()`` goes
        on from where it was."""
        old = self.entries
        self.entries = entries = {}
        self.positions, self.keys = positions, keys = [], []
        self.done = self.tried = self.aborted = 0
        last = -1
        for key, record in data.items():
            known = old.get(key)
            last = max(known[0], last + 1) if known is not None else last + 1
            bits = bits_of(record)
            entries[key] = (last, bits)
            positions.append(last)
            keys.append(key)
            self.count(bits, 1)
        self.next = max(self.next, last + 1)


class _ClosedState:
    def __init__(self, path: Any) -> None:
        self._path = path

    def __getattr__(self, name: str) -> Any:
        raise ValueError(f"Tracker at {self._path} is closed; open it again to use it")


class ProgressTracker(PersistentOrderedDict):
    """A POD of task records that tells what is left to do, across restarts.

    Each value is a dict with ``_done`` (False), ``_tries`` (0), ``_aborted``
    (False) and any fields of the user's. A task should be done while it is
    not done, not aborted (unless ``allow_aborted``) and, when ``max_tries``
    is not 0, tried fewer than ``max_tries`` times. ``try_*`` and
    ``should_try`` count a try and write it to disk before handing the task
    out (unless ``hold()`` is on), so a crash never lets a task be tried more
    than ``max_tries`` times.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        max_tries: int = 0,
        init: Mapping | Iterable | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        mode: str = "w",
    ) -> None:
        if type(max_tries) is not int or max_tries < 0:
            raise ValueError(f"max_tries must be an int >= 0 (0: no limit), not {max_tries!r}")
        self.max_tries = max_tries
        super().__init__(path, init, gzipped, file_size, sync_at, mode=mode)

    # -- the POD hooks -------------------------------------------------------

    def _open(self, path: Any, readonly: bool, gzipped: bool, file_size: int) -> None:
        self._state = _State()  # before the load, which calls _reloaded()
        super()._open(path, readonly, gzipped, file_size)
        if self._kinds is WRITABLE:
            self._kinds = RECORD_KINDS

    def _normal(self, key: Any, value: Any) -> dict:
        plain = unwrap(value)
        if not isinstance(plain, dict):
            raise TypeError(
                f"tracker[{key!r}] = {type(value).__name__}: a tracker value must be a "
                f"dict (a task record, e.g. {{'note': ...}}); use tracker.add({key!r}) "
                "for an empty one"
            )
        record = {**DEFAULTS, **normalize(plain, (key,))}
        for field in DEFAULTS:
            check_field(key, field, record[field])
        return record

    def _changed(self, key: Any) -> None:
        state = self._state
        record = self._data.get(key, _MISSING)
        old = state.entries.get(key)
        if record is _MISSING:
            if old is not None:
                del state.entries[key]
                state.count(old[1], -1)
                if len(state.keys) > 2 * len(state.entries) + _SLACK:
                    self._compact()
            return
        bits = bits_of(record)
        if old is None:
            position = state.next
            state.next += 1
            state.entries[key] = (position, bits)
            state.positions.append(position)
            state.keys.append(key)
            state.count(bits, 1)
        elif old[1] != bits:
            state.entries[key] = (old[0], bits)
            state.count(old[1], -1)
            state.count(bits, 1)

    def _reloaded(self) -> None:
        for key, record in self._data.items():
            problem = record_problem(key, record)
            if problem:
                raise ValueError(
                    f"{self._store.path} cannot be opened as a Tracker: key {key!r} "
                    f"{problem}. Open it as a tastypy.POD instead, or give every value "
                    "the fields _done (bool), _tries (int >= 0) and _aborted (bool)"
                )
        self._state.rebuild(self._data)

    def _compact(self) -> None:
        state = self._state
        state.keys = list(self._data)
        state.positions = [state.entries[key][0] for key in state.keys]

    def close(self) -> None:
        """Sync, and release the folder once no object of this process uses it."""
        super().close()
        if self._users <= 0:
            self._state = _ClosedState(self._store.path)  # type: ignore[assignment]

    # -- adding --------------------------------------------------------------

    def add(self, key: Any) -> None:
        """Add ``key`` as a new task (not done, 0 tries, not aborted).

        Raises ``DuplicateKeyError`` (a ``KeyError``) if ``key`` is present.
        """
        self._writable()
        check_key(key)
        if key in self._data:
            raise DuplicateKeyError(self._duplicate(key))
        self._set_normal(key, dict(DEFAULTS))

    def add_if_absent(self, key: Any) -> bool:
        """Add ``key`` unless present; return True when it was added."""
        self._writable()
        check_key(key)
        if key in self._data:
            return False
        self._set_normal(key, dict(DEFAULTS))
        return True

    def add_many(self, keys: Iterable) -> None:
        """Add every key; if any is present (or repeated), add none.

        Raises ``DuplicateKeyError`` naming the first duplicate.
        """
        self._writable()
        keys = list(keys)
        seen: set = set()
        for key in keys:
            check_key(key)
            if key in self._data or key in seen:
                raise DuplicateKeyError(self._duplicate(key) + "; nothing was added")
            seen.add(key)
        self._add_all(keys)

    def add_many_if_absent(self, keys: Iterable) -> int:
        """Add the keys not present yet; return how many were added."""
        self._writable()
        new: dict = {}
        data = self._data
        for key in keys:
            check_key(key)
            if key not in data:
                new[key] = None
        self._add_all(new)
        return len(new)

    def _add_all(self, keys: Iterable) -> None:
        with self._batch():
            for key in keys:
                self._set_normal(key, dict(DEFAULTS))

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        # One sync at the end instead of one every ``sync_at`` keys.
        held, self._held = self._held, True
        try:
            yield
        finally:
            self._held = held
        if len(self._dirty) >= self._sync_at and not held:
            self.sync()

    def _duplicate(self, key: Any) -> str:
        return (
            f"{key!r} is already in the tracker at {self._store.path}; "
            "use add_if_absent() or add_many_if_absent() to skip present keys"
        )

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Merge each given dict into the record of its key, adding absent keys.

        Every value is checked before any record changes.
        """
        self._writable()
        items = other.items() if isinstance(other, Mapping) else other
        merged: dict = {}
        for pair in [*items, *kwargs.items()]:
            try:
                key, value = pair
            except (TypeError, ValueError):
                raise TypeError(
                    f"update() needs a mapping or (key, value) pairs, got {pair!r}"
                ) from None
            check_key(key)
            value = unwrap(value)
            if not isinstance(value, dict):
                self._normal(key, value)  # raises the TypeError that names the key
            base = merged.get(key, _MISSING)
            if base is _MISSING:
                base = self._data.get(key, {})
            merged[key] = {**base, **value}
        super().update(merged)

    # -- one task ------------------------------------------------------------

    def _record(self, key: Any) -> dict:
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(
                f"{key!r} is not in the tracker at {self._store.path}; add it first "
                "with add() (or use should_do_add() / should_try_add())"
            ) from None
        except TypeError:
            check_key(key)
            raise

    def _set(self, key: Any, field: str, value: Any) -> None:
        self._writable()
        record = self._record(key)
        if record[field] != value:
            record[field] = value
            self.mark_dirty(key)  # -> _changed(key): the counters follow

    def mark_done(self, key: Any) -> None:
        """Mark ``key`` done."""
        self._set(key, "_done", True)

    def mark_not_done(self, key: Any) -> None:
        """Mark ``key`` not done."""
        self._set(key, "_done", False)

    def done(self, key: Any) -> bool:
        """Whether ``key`` is done; False for an absent key."""
        record = self._data.get(key)
        return record is not None and record["_done"]

    def abort(self, key: Any) -> None:
        """Mark ``key`` aborted: ``todo_*``/``try_*`` pass over it unless ``allow_aborted``."""
        self._set(key, "_aborted", True)

    def unabort(self, key: Any) -> None:
        """Mark ``key`` not aborted."""
        self._set(key, "_aborted", False)

    def aborted(self, key: Any) -> bool:
        """Whether ``key`` is aborted; False for an absent key."""
        record = self._data.get(key)
        return record is not None and record["_aborted"]

    def tries(self, key: Any) -> int:
        """How many times ``key`` was tried (``KeyError`` if absent)."""
        return self._record(key)["_tries"]

    def increment_tries(self, key: Any) -> None:
        """Count one more try of ``key``."""
        self._set(key, "_tries", self._record(key)["_tries"] + 1)

    def decrement_tries(self, key: Any) -> None:
        """Count one try less of ``key``; ``ValueError`` if it has none."""
        tries = self._record(key)["_tries"]
        if tries == 0:
            raise ValueError(f"tracker[{key!r}] has 0 tries: there is no try to take back")
        self._set(key, "_tries", tries - 1)

    def reset_tries(self, key: Any) -> None:
        """Set the tries of ``key`` back to 0."""
        self._set(key, "_tries", 0)

    def _todo(self, allow_aborted: bool) -> Callable[[dict], bool]:
        max_tries = self.max_tries

        def todo(record: dict) -> bool:
            return (
                not record["_done"]
                and (allow_aborted or not record["_aborted"])
                and (max_tries == 0 or record["_tries"] < max_tries)
            )

        return todo

    def should_do(self, key: Any, allow_aborted: bool = False) -> bool:
        """Whether ``key`` is to do: not done, not aborted (unless
        ``allow_aborted``) and tried fewer than ``max_tries`` times (when not 0).
        ``KeyError`` if absent."""
        return self._todo(allow_aborted)(self._record(key))

    def should_do_add(self, key: Any, allow_aborted: bool = False) -> bool:
        """``should_do``, adding ``key`` first if it is absent."""
        self.add_if_absent(key)
        return self.should_do(key, allow_aborted)

    def should_try(self, key: Any, allow_aborted: bool = False) -> bool:
        """``should_do``; when True, also count a try (written to disk unless held)."""
        if not self.should_do(key, allow_aborted):
            return False
        self._tried(key)
        return True

    def should_try_add(self, key: Any, allow_aborted: bool = False) -> bool:
        """``should_try``, adding ``key`` first if it is absent."""
        self.add_if_absent(key)
        return self.should_try(key, allow_aborted)

    def _tried(self, key: Any) -> None:
        # The try must be on disk before the work starts: after a crash the
        # task is then never tried more than max_tries times. The same sync
        # writes the done mark of the previous task.
        self.increment_tries(key)
        if not self._held:
            self.sync()

    # -- iteration by position -----------------------------------------------

    def _next(self, start: int, test: Callable[[dict], bool]) -> tuple | None:
        """``(key, position)`` of the first live key at ``start`` or later whose
        record passes ``test``, or None."""
        state = self._state
        positions, keys, entries, data = state.positions, state.keys, state.entries, self._data
        index = bisect_left(positions, start)
        while index < len(keys):
            key = keys[index]
            entry = entries.get(key)
            if entry is not None and entry[0] == positions[index] and test(data[key]):
                return key, positions[index]
            index += 1
        return None

    def _next_to_try(
        self, start: int, allow_aborted: bool = False, skip: Any = ()
    ) -> tuple | None:
        """Hand out the next task at position ``start`` or later, as ``(key, position)``.

        Counts the try (written to disk unless held) and returns it, or None when
        nothing is left. Pass ``position + 1`` as the next ``start``. Keys in
        ``skip`` are passed over (a server's keys in the hands of other workers).
        """
        todo = self._todo(allow_aborted)
        found = self._next(start, todo)
        while found is not None and found[0] in skip:
            found = self._next(found[1] + 1, todo)
        if found is not None:
            self._tried(found[0])
        return found

    def _walk(self, test: Callable[[dict], bool]) -> Iterator:
        start = 0
        while (found := self._next(start, test)) is not None:
            yield found[0]
            start = found[1] + 1

    def todo_keys(self, allow_aborted: bool = False) -> Iterator:
        """The keys to do (see ``should_do``), in insertion order.

        A live walk: keys added during the loop are reached, keys deleted
        during it are passed over.
        """
        return self._walk(self._todo(allow_aborted))

    def todo_items(self, allow_aborted: bool = False) -> Iterator:
        """``(key, record)`` of ``todo_keys()``."""
        return ((key, self[key]) for key in self.todo_keys(allow_aborted))

    def todo_values(self, allow_aborted: bool = False) -> Iterator:
        """The records of ``todo_keys()``."""
        return (self[key] for key in self.todo_keys(allow_aborted))

    def try_keys(self, allow_aborted: bool = False, progress: bool = False) -> Iterator:
        """Like ``todo_keys()``, counting a try of each key before yielding it.

        One pass in insertion order that also reaches keys added during the
        loop; a task that fails stays to do for the next loop (or run), until
        ``max_tries``. Each try is on disk before the key is yielded (unless
        ``hold()`` is on). ``progress=True`` shows a tqdm bar of the done keys
        (``ImportError`` at once if tqdm is missing).
        """
        keys = self._tries_walk(allow_aborted)
        if progress:
            from tastypy.progress import bar_over

            return bar_over(keys, self)
        return keys

    def _tries_walk(self, allow_aborted: bool) -> Iterator:
        start = 0
        while (found := self._next_to_try(start, allow_aborted)) is not None:
            yield found[0]
            start = found[1] + 1

    def try_items(self, allow_aborted: bool = False, progress: bool = False) -> Iterator:
        """``(key, record)`` of ``try_keys()``."""
        return ((key, self[key]) for key in self.try_keys(allow_aborted, progress))

    def try_values(self, allow_aborted: bool = False, progress: bool = False) -> Iterator:
        """The records of ``try_keys()``."""
        return (self[key] for key in self.try_keys(allow_aborted, progress))

    def aborted_keys(self) -> Iterator:
        """The aborted keys, in insertion order (a live walk like ``todo_keys``)."""
        return self._walk(lambda record: record["_aborted"])

    def aborted_items(self) -> Iterator:
        """``(key, record)`` of ``aborted_keys()``."""
        return ((key, self[key]) for key in self.aborted_keys())

    def aborted_values(self) -> Iterator:
        """The records of ``aborted_keys()``."""
        return (self[key] for key in self.aborted_keys())

    # -- counts --------------------------------------------------------------

    def num_done(self) -> int:
        """How many tasks are done (O(1))."""
        return self._state.done

    def num_tried(self) -> int:
        """How many tasks were tried at least once (O(1))."""
        return self._state.tried

    def num_aborted(self) -> int:
        """How many tasks are aborted (O(1))."""
        return self._state.aborted

    def _fraction(self, count: int) -> float:
        total = len(self)
        return count / total if total else 0.0

    def fraction_done(self) -> float:
        """``num_done() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_done())

    def fraction_tried(self) -> float:
        """``num_tried() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_tried())

    def fraction_aborted(self) -> float:
        """``num_aborted() / len(tracker)``; 0.0 when empty."""
        return self._fraction(self.num_aborted())

    def percent_done(self, decimals: int = 2) -> str:
        """The share of done tasks, e.g. ``'34.70 %'``."""
        return _percent(self.fraction_done(), decimals)

    def percent_not_done(self, decimals: int = 2) -> str:
        """The share of tasks not done; ``'0.00 %'`` when empty."""
        return _percent(self._fraction(len(self) - self.num_done()), decimals)

    def percent_tried(self, decimals: int = 2) -> str:
        """The share of tasks tried at least once."""
        return _percent(self.fraction_tried(), decimals)

    def percent_not_tried(self, decimals: int = 2) -> str:
        """The share of tasks never tried; ``'0.00 %'`` when empty."""
        return _percent(self._fraction(len(self) - self.num_tried()), decimals)

    def percent_aborted(self, decimals: int = 2) -> str:
        """The share of aborted tasks."""
        return _percent(self.fraction_aborted(), decimals)

    def percent_not_aborted(self, decimals: int = 2) -> str:
        """The share of tasks not aborted; ``'0.00 %'`` when empty."""
        return _percent(self._fraction(len(self) - self.num_aborted()), decimals)


def _percent(fraction: float, decimals: int) -> str:
    if type(decimals) is not int or decimals < 0:
        raise ValueError(f"decimals must be an int >= 0, not {decimals!r}")
    return f"{100 * fraction:.{decimals}f} %"


Tracker = ProgressTracker
