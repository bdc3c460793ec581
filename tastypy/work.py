"""Work sharing: who is on which key of a tracker's ``try_keys()`` loops.

One model for a ProgressTracker's threads and a SharedTracker's processes:
a loop is a claim. Runs under the tracker's lock (a ProgressTracker's own,
or the server's one-call-at-a-time loop).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from tastypy.observe import unwrap


class Work:
    """Hands each key to one loop at a time, like a queue hands out tasks.

    A loop is ``(cid, task)``: a client (a process of a server's, or
    ``LOCAL`` for this process's threads) and one ``try_*()`` iterator of
    it. Its key stays claimed until the loop asks for its next key, the key
    is marked done or aborted, the loop is closed, or the client dies: then
    the key is an orphan, offered to the next loop that asks before its own
    scan goes on. An orphan handed to a loop ahead of its scan is passed
    over when the scan gets there: a loop meets each key once.
    ``alive(cid)`` tells whether a client lives (a server sets it).
    """

    def __init__(self, tracker: Any, alive: Callable[[Any], bool] | None = None) -> None:
        self.tracker = tracker
        self.alive: Callable[[Any], bool] = alive or _always
        self.claims: dict[tuple[Any, Any], Any] = {}  # loop -> key
        self.owners: dict[Any, tuple[Any, Any]] = {}  # key -> loop
        self.orphans: dict[Any, None] = {}  # keys left by dead clients, in order
        self.handed: dict[tuple[Any, Any], set[Any]] = {}  # loop -> orphans it was handed

    def next(self, cid: Any, task: Any, start: int, allow_aborted: bool, values: bool) -> Any:
        """The next key for loop ``(cid, task)``, its tries already counted.

        Returns ``(key, where the loop's scan goes on, value or None)``;
        ``(None, start, seconds)`` when the keys left are waiting for their
        ``_retry_at``, the first due in ``seconds``; None when no key is left.
        """
        loop = (cid, task)
        self.drop(loop)
        self._reap()
        tracker = self.tracker
        now = tracker._now()
        key = self._orphan(allow_aborted)
        if key is None:  # a key whose _retry_at came, wherever the scan is
            key = tracker._due_to_try(now, allow_aborted, self.owners)
        if key is not None:
            self.handed.setdefault(loop, set()).add(key)
        else:
            # Counts the try itself, and passes over keys other loops are on.
            skip = _Either(self.owners, self.handed.get(loop, ()))
            found = tracker._next_to_try(start, allow_aborted, skip=skip, now=now)
            if found is None:
                wait = tracker._wait_for_due(now, allow_aborted, self.owners)
                return None if wait is None else (None, start, wait)
            key, start = found[0], found[1] + 1
        self.claims[loop] = key
        self.owners[key] = loop
        return key, start, unwrap(tracker[key]) if values else None

    def drop(self, loop: tuple[Any, Any]) -> None:
        """Forget the key of ``loop``: it asked for another, or ended."""
        key = self.claims.pop(loop, None)
        if key is not None:
            del self.owners[key]

    def end(self, loop: tuple[Any, Any]) -> None:
        """Loop ``loop`` ended: forget its key and the orphans it met."""
        self.drop(loop)
        self.handed.pop(loop, None)

    def release_key(self, key: Any) -> None:
        """``key`` was marked done or aborted: nobody is on it any more."""
        loop = self.owners.pop(key, None)
        if loop is not None:
            del self.claims[loop]
        self.orphans.pop(key, None)

    def _reap(self) -> None:
        verdicts: dict[Any, bool] = {}

        def dead(loop: tuple[Any, Any]) -> bool:
            if loop[0] not in verdicts:
                verdicts[loop[0]] = self.alive(loop[0])
            return not verdicts[loop[0]]

        for loop, key in list(self.claims.items()):
            if dead(loop):
                self.drop(loop)
                self.orphans[key] = None
        for loop in [loop for loop in self.handed if dead(loop)]:
            del self.handed[loop]

    def _orphan(self, allow_aborted: bool) -> Any:
        tracker = self.tracker
        for key in list(self.orphans):
            del self.orphans[key]
            if key in tracker and key not in self.owners and tracker.should_try(key, allow_aborted):
                return key
        return None


#: The client of a tracker's own loops: the threads of the process holding it.
LOCAL = "local"
#: The id of each ``try_*()`` loop this process starts, on any face (sync,
#: async, any host): one count, so that a host never sees two loops of one
#: process under one id.
next_loop = itertools.count().__next__
#: The longest a loop waiting for a due key sleeps before it asks again
#: (keys added or freed meanwhile are seen then).
NAP = 1.0


def loop(
    ask: Callable[[int], Any], end: Callable[[], None], max_wait: float | None
) -> Iterator[tuple[Any, Any]]:
    """The client side of a ``try_*()`` loop, on every host: ``(key, value)`` pairs.

    ``ask(start)`` is a host's ``next``: ``(key, start, value)``, None when
    nothing is left, or ``(None, start, seconds)`` when only keys waiting
    for their ``_retry_at`` are left; the loop then sleeps (outside any
    lock), at most ``max_wait`` seconds in all (None: as long as it takes).
    ``end()`` gives the loop's claim back, however the loop ends.
    """
    start, waited = 0, 0.0
    try:
        while True:
            got = ask(start)
            if got is None:
                return
            key, start, value = got
            if key is None:
                if max_wait is not None and waited + value > max_wait:
                    return
                nap = min(value, NAP)
                time.sleep(nap)
                waited += nap
                continue
            yield key, value
    finally:
        end()


def _always(cid: Any) -> bool:
    return True


class _Either:
    """Keys in one container or the other (passed over by a scan)."""

    def __init__(self, one: Any, other: Any) -> None:
        self.one, self.other = one, other

    def __contains__(self, key: Any) -> bool:
        return key in self.one or key in self.other
