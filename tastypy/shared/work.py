"""Work sharing: who is on which key of a SharedTracker's ``try_keys()`` loops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tastypy.observe import unwrap


class Work:
    """Hands each key to one loop at a time, like a queue hands out tasks.

    A loop is ``(cid, task)``: a client process and one ``try_*()`` iterator
    of it. Its key stays claimed until the loop asks for its next key, the
    key is marked done or aborted, or the client dies: then the key is an
    orphan, offered to the next loop that asks before its own scan goes on.
    Keys are only ever handed out by the server's one-call-at-a-time host.
    """

    def __init__(self, tracker: Any, alive: Callable[[Any], bool]) -> None:
        self.tracker = tracker
        self.alive = alive
        self.claims: dict[tuple[Any, Any], Any] = {}  # loop -> key
        self.owners: dict[Any, tuple[Any, Any]] = {}  # key -> loop
        self.orphans: dict[Any, None] = {}  # keys left by dead clients, in order

    def next(self, cid: Any, task: Any, start: int, allow_aborted: bool, values: bool) -> Any:
        """The next key for loop ``(cid, task)``, its tries already counted.

        Returns ``(key, where the loop's scan goes on, value or None)``, or
        None when no key is left for it.
        """
        loop = (cid, task)
        self.drop(loop)
        self._reap()
        tracker = self.tracker
        key = self._orphan(allow_aborted)
        if key is None:
            # Counts the try itself, and passes over keys other loops are on.
            found = tracker._next_to_try(start, allow_aborted, skip=self.owners)
            if found is None:
                return None
            key, start = found[0], found[1] + 1
        self.claims[loop] = key
        self.owners[key] = loop
        return key, start, unwrap(tracker[key]) if values else None

    def drop(self, loop: tuple[Any, Any]) -> None:
        """Forget the key of ``loop``: it asked for another, or ended."""
        key = self.claims.pop(loop, None)
        if key is not None:
            del self.owners[key]

    def release_key(self, key: Any) -> None:
        """``key`` was marked done or aborted: nobody is on it any more."""
        loop = self.owners.pop(key, None)
        if loop is not None:
            del self.claims[loop]
        self.orphans.pop(key, None)

    def _reap(self) -> None:
        verdicts: dict[Any, bool] = {}
        for loop, key in list(self.claims.items()):
            cid = loop[0]
            if cid not in verdicts:
                verdicts[cid] = self.alive(cid)
            if not verdicts[cid]:
                self.drop(loop)
                self.orphans[key] = None

    def _orphan(self, allow_aborted: bool) -> Any:
        tracker = self.tracker
        for key in list(self.orphans):
            del self.orphans[key]
            if key in tracker and key not in self.owners and tracker.should_try(key, allow_aborted):
                return key
        return None
