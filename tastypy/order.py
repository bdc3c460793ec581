"""The live key order of a tracker and its done / tried / aborted counts.

Each key holds a *position* that grows with insertion and never changes while
the key lives, so a loop (or a server's client) can hold one across calls and
go on from there: it reaches keys added meanwhile and passes over keys
deleted meanwhile. Knows nothing of disk or records: it is told each key's
state bits (``records.DONE | TRIED | ABORTED``) and due time (``_retry_at``),
which it keeps in an index: a loop skips keys not due yet and finds the
earliest due key without a scan.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from itertools import count, repeat
from operator import lshift, or_
from typing import Any

from tastypy.records import ABORTED, DONE, TRIED

#: Dead slots tolerated before they are swept out (amortized O(1)).
_SLACK = 64

#: An entry is ``position << _SHIFT | bits``: one int per key, not a tuple.
_SHIFT = 3
_BITS = (1 << _SHIFT) - 1


class TaskOrder:
    """Positions and state bits of the live keys, and their counts."""

    def __init__(self) -> None:
        self._entries: dict[Any, int] = {}  # key -> position << _SHIFT | bits
        # Every key ever placed since the last sweep, by position; a slot is
        # dead when its key was deleted (or re-added at a later position).
        self._positions = array("q")
        self._keys: list[Any] = []
        self._next_position = 0
        self.done = self.tried = self.aborted = 0
        #: key -> the time before which it is not handed out, and a heap of
        #: (time, tiebreak, key) over it (entries go stale when a time changes).
        self.due: dict[Any, float] = {}
        self._heap: list[tuple[float, int, Any]] = []
        self._pushes = count()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Any) -> bool:
        return key in self._entries

    def bits(self, key: Any) -> int:
        """The state bits of ``key`` (``KeyError`` if unknown)."""
        return self._entries[key] & _BITS

    def set(self, key: Any, bits: int) -> None:
        """``key`` now has state ``bits``; a new key goes to the end."""
        old = self._entries.get(key)
        if old is None:
            position = self._next_position
            self._next_position += 1
            self._entries[key] = position << _SHIFT | bits
            self._positions.append(position)
            self._keys.append(key)
            self._count(bits, 1)
        elif old & _BITS != bits:
            self._entries[key] = old & ~_BITS | bits
            self._count(old & _BITS, -1)
            self._count(bits, 1)

    def set_due(self, key: Any, at: float | None) -> None:
        """``key`` is not to be handed out before ``at`` (None: at any time)."""
        if at is None:
            self.due.pop(key, None)
        elif self.due.get(key) != at:
            self.due[key] = at
            heapq.heappush(self._heap, (at, next(self._pushes), key))
            if len(self._heap) > 2 * len(self.due) + _SLACK:
                self._heap = [(when, next(self._pushes), k) for k, when in self.due.items()]
                heapq.heapify(self._heap)

    def earliest(self) -> tuple[float, Any] | None:
        """``(time, key)`` of the key due first, or None."""
        heap, due = self._heap, self.due
        while heap and due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return (heap[0][0], heap[0][2]) if heap else None

    def pop_due(self, now: float) -> Any:
        """A key whose time came (at or before ``now``), taken off the heap; None if none."""
        found = self.earliest()
        if found is None or found[0] > now:
            return None
        heapq.heappop(self._heap)
        return found[1]

    def keep_due(self, key: Any) -> None:
        """Put back on the heap a key ``pop_due`` took but nobody handed out."""
        at = self.due.get(key)
        if at is not None:
            heapq.heappush(self._heap, (at, next(self._pushes), key))

    def remove(self, key: Any) -> None:
        """Forget ``key`` (nothing if unknown)."""
        self.due.pop(key, None)
        old = self._entries.pop(key, None)
        if old is None:
            return
        self._count(old & _BITS, -1)
        if len(self._keys) > 2 * len(self._entries) + _SLACK:
            self._sweep()

    def start(self, keys: list[Any], bits: list[int]) -> None:
        """Start afresh from ``keys`` in order and their ``bits``, at positions 0, 1, 2…
        (no due times: set them after)."""
        self.due, self._heap = {}, []
        n = len(keys)
        codes = map(or_, map(lshift, range(n), repeat(_SHIFT)), bits)
        self._entries = dict(zip(keys, codes))
        self._positions = array("q", range(n))
        self._keys = list(keys)
        self._next_position = n
        self.done = sum(map(DONE.__and__, bits)) // DONE
        self.tried = sum(map(TRIED.__and__, bits)) // TRIED
        self.aborted = sum(map(ABORTED.__and__, bits)) // ABORTED

    def rebuild(self, pairs: Iterable[tuple[Any, int]]) -> None:
        """Start over from ``(key, bits)`` pairs in order, keeping the positions
        of known keys where the order allows it, so that a loop running across
        a reload goes on from where it was (no due times: set them after)."""
        self.due, self._heap = {}, []
        old = self._entries
        self._entries = entries = {}
        self._positions, self._keys = positions, keys = array("q"), []
        self.done = self.tried = self.aborted = 0
        last = -1
        for key, bits in pairs:
            known = old.get(key)
            last = max(known >> _SHIFT, last + 1) if known is not None else last + 1
            entries[key] = last << _SHIFT | bits
            positions.append(last)
            keys.append(key)
            self._count(bits, 1)
        self._next_position = max(self._next_position, last + 1)

    def first(
        self,
        start: int,
        test: Callable[[Any], bool],
        skip: int = 0,
        need: int = 0,
        now: float | None = None,
    ) -> tuple[Any, int] | None:
        """``(key, position)`` of the first live key at ``start`` or later that
        passes ``test(key)``, or None. Keys with any of the bits ``skip``, or
        without all of the bits ``need``, or (given ``now``) not due by then,
        are passed over without a test."""
        positions, keys, entries = self._positions, self._keys, self._entries
        due = self.due if now is not None else {}
        index = bisect_left(positions, start)
        while index < len(keys):
            key = keys[index]
            entry = entries.get(key)
            if (
                entry is not None
                and entry >> _SHIFT == positions[index]
                and not entry & skip
                and entry & need == need
                and (not due or due.get(key, now) <= now)  # type: ignore[operator]  # now is a float here
                and test(key)
            ):
                return key, positions[index]
            index += 1
        return None

    def _count(self, bits: int, sign: int) -> None:
        if bits & DONE:
            self.done += sign
        if bits & TRIED:
            self.tried += sign
        if bits & ABORTED:
            self.aborted += sign

    def _sweep(self) -> None:
        """Drop the dead slots."""
        entries = self._entries
        live = [
            (position, key)
            for position, key in zip(self._positions, self._keys)
            if key in entries and entries[key] >> _SHIFT == position
        ]
        self._positions = array("q", [position for position, _ in live])
        self._keys = [key for _, key in live]
