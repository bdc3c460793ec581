"""``SharedTracker``: a ProgressTracker held by a server, its work shared out."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tastypy.shared.client import CHUNK, SharedPersistentOrderedDict
from tastypy.shared.server import POD_METHODS, TRACKER_METHODS
from tastypy.tracker import ProgressTracker

_tasks = itertools.count()


class SharedProgressTracker(SharedPersistentOrderedDict):
    """A ProgressTracker held by a server process, shared by many processes.

    Its methods are those of ``ProgressTracker``, each one atomic call.
    Several processes looping over ``try_keys()`` at once share the work like
    workers on a queue: a key handed to one loop is handed to no other while
    that loop is on it (until it asks for its next key, the key is marked
    done or aborted, or its process dies).
    """

    _kind = "tracker"

    def __init__(
        self,
        path: str | os.PathLike,
        max_tries: int = 0,
        init: Mapping | Iterable | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        address: Any = None,
        authkey: bytes | None = None,
    ) -> None:
        options = {
            "max_tries": max_tries,
            "init": init,
            "gzipped": gzipped,
            "file_size": file_size,
            "sync_at": sync_at,
        }
        self._create(path, options, address, authkey)

    @property
    def max_tries(self) -> int:
        """The most tries of a task before it is no longer to do (0: no limit)."""
        return self._call("attr", "max_tries")

    def add_many(self, keys: Iterable) -> None:
        """Add every key; if any is present (or repeated), add none (``DuplicateKeyError``)."""
        self._call("add_many", list(keys))

    def add_many_if_absent(self, keys: Iterable) -> int:
        """Add the keys not present yet; return how many were added."""
        return self._call("add_many_if_absent", list(keys))

    # -- walks -----------------------------------------------------------------

    def _scan(self, test: str, allow_aborted: bool, values: bool) -> Iterator:
        start = 0
        while True:
            found, start, end = self._call("scan", start, CHUNK, test, allow_aborted, values)
            if values:
                yield from ((key, self._wrap(key, value)) for key, value in found)
            else:
                yield from found
            if end:
                return

    def todo_keys(self, allow_aborted: bool = False) -> Iterator:
        """The keys to do (see ``should_do``), in insertion order, fetched in chunks."""
        return self._scan("todo", allow_aborted, False)

    def todo_items(self, allow_aborted: bool = False) -> Iterator:
        """``(key, record)`` of ``todo_keys()``."""
        return self._scan("todo", allow_aborted, True)

    def todo_values(self, allow_aborted: bool = False) -> Iterator:
        """The records of ``todo_keys()``."""
        return (value for _, value in self.todo_items(allow_aborted))

    def aborted_keys(self) -> Iterator:
        """The aborted keys, in insertion order, fetched in chunks."""
        return self._scan("aborted", False, False)

    def aborted_items(self) -> Iterator:
        """``(key, record)`` of ``aborted_keys()``."""
        return self._scan("aborted", False, True)

    def aborted_values(self) -> Iterator:
        """The records of ``aborted_keys()``."""
        return (value for _, value in self.aborted_items())

    # -- shared work -------------------------------------------------------------

    def _work(self, allow_aborted: bool, values: bool) -> Iterator:
        task = next(_tasks)
        start = 0
        try:
            while True:
                got = self._call("next", task, start, allow_aborted, values)
                if got is None:
                    return
                key, start, value = got
                yield (key, self._wrap(key, value)) if values else key
        finally:
            with contextlib.suppress(ValueError):
                self._call("drop", task)

    def try_keys(self, allow_aborted: bool = False, progress: bool = False) -> Iterator:
        """Keys to try, each with its try counted, shared between processes.

        Each call is one loop: the server hands it the next key that should
        be tried and that no other loop is on (counting the try in the same
        call), first any key left by a process that died. ``progress=True``
        shows a tqdm bar of the done keys, as ``ProgressTracker.try_keys``.
        """
        return self._bar(self._work(allow_aborted, False), progress)

    def try_items(self, allow_aborted: bool = False, progress: bool = False) -> Iterator:
        """``(key, record)`` of ``try_keys()``."""
        return self._bar(self._work(allow_aborted, True), progress)

    def try_values(self, allow_aborted: bool = False, progress: bool = False) -> Iterator:
        """The records of ``try_keys()``."""
        return (value for _, value in self.try_items(allow_aborted, progress))

    def _bar(self, loop: Iterator, progress: bool) -> Iterator:
        if not progress:
            return loop
        from tastypy.progress import bar_over

        return bar_over(loop, self)


def _forward(name: str) -> Any:
    def call(self: SharedProgressTracker, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = getattr(ProgressTracker, name).__doc__
    return call


# The tracker's own methods that are one plain call to the server.
for _name in sorted(TRACKER_METHODS - POD_METHODS - set(vars(SharedProgressTracker))):
    setattr(SharedProgressTracker, _name, _forward(_name))

SharedTracker = SharedProgressTracker
