"""The job as serve sees it: counts, failures and due times, kept up to date.

``FolderWatch`` reads a folder read-only beside its writer (a ``Tracker``,
a ``SharedTracker``'s server): it counts every record once when it opens,
then each ``refresh()`` reads only what was committed since
(``Store.follow``) and adjusts the counts by the records that changed.
It holds the store's texts (as a read-only open does) plus one entry per
record that failed or waits for a due time.

``RedisWatch`` asks a ``RedisTracker``: counts are its O(1) counters;
failures and due times need a scan of every record, made at most every
``scan_every`` seconds, and less often when a scan takes long (at most a
tenth of the time goes to scanning).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any

from tastypy.keys import Key
from tastypy.records import ABORTED, DONE, TRIED
from tastypy.serve.records import Info, in_state, info_of, infos_of_texts
from tastypy.store import Store
from tastypy.store.format import encode_key

#: Records a page request reads at most while looking for keys of a state.
SCAN_BUDGET = 100_000
#: Example keys given per failure type.
EXAMPLES = 5


class _Tally:
    """Counts, failures and due times of records, changed record by record."""

    def __init__(self) -> None:
        self.total = self.done = self.tried = self.aborted = self.both = 0
        self.failures: dict[Key, tuple[str, float | None]] = {}  # key -> (type, at), not done
        self.due: dict[Key, float] = {}  # key -> _retry_at, neither done nor aborted

    def add(self, key: Key, info: Info, sign: int) -> None:
        bits = info.bits
        self.total += sign
        if bits:
            if bits & DONE:
                self.done += sign
                if bits & ABORTED:
                    self.both += sign
            if bits & TRIED:
                self.tried += sign
            if bits & ABORTED:
                self.aborted += sign
        if sign < 0:
            if self.failures:
                self.failures.pop(key, None)
            if self.due:
                self.due.pop(key, None)
            return
        if info.error is not None and not bits & DONE:
            self.failures[key] = info.error
        if info.retry_at is not None and not bits & (DONE | ABORTED):
            self.due[key] = info.retry_at

    def counts(self, now: float) -> dict[str, int]:
        todo = self.total - self.done - self.aborted + self.both
        waiting = sum(1 for due in self.due.values() if due > now)
        return {
            "total": self.total, "done": self.done, "tried": self.tried, "aborted": self.aborted,
            "todo": todo, "waiting": waiting, "due": todo - waiting, "failed": len(self.failures),
        }

    def failure_groups(self) -> list[dict[str, Any]]:
        by_type: dict[str, list[tuple[float, Key]]] = {}
        for key, (kind, at) in self.failures.items():
            by_type.setdefault(kind, []).append((at or 0.0, key))
        groups: list[dict[str, Any]] = []
        for kind, found in by_type.items():
            latest = sorted(found, key=lambda pair: pair[0], reverse=True)
            groups.append({
                "type": kind, "count": len(found), "examples": [key for _, key in latest[:EXAMPLES]],
                "last_at": latest[0][0] or None,
            })
        groups.sort(key=lambda group: (-group["count"], group["type"]))
        return groups

    def failures_per_minute(self) -> list[list[int]]:
        """``[minute start, failures whose last error is from that minute]``, from ``_error.at``."""
        minutes = Counter(int(at // 60) * 60 for _, at in self.failures.values() if at)
        return [[minute, n] for minute, n in sorted(minutes.items())]


class FolderWatch:
    """A tracker folder, read-only, followed commit by commit."""

    kind = "folder"

    def __init__(self, path: Path) -> None:
        self.where = str(path)
        self.store = Store(path, read_only=True)
        self.lock = threading.Lock()
        self.changes = 0  # records changed, as refreshes found them
        self.recounts = 0
        try:
            self._count()
        except BaseException:
            self.store.close()
            raise

    def _count(self) -> None:
        # Strict on open (a POD is refused); a recount after a compaction that
        # could not be followed is not, as refreshes are not.
        tally = _Tally()
        keys = self.store.keys()
        for texts in self.store.texts():
            for info in infos_of_texts(texts, strict=not self.recounts):
                tally.add(next(keys), info, 1)
        self.tally = tally
        self.recounts += 1

    def refresh(self) -> int:
        """Read what was committed since the last refresh; the number of records changed."""
        with self.lock:
            changes = self.store.follow()
            if changes is None:
                self._count()
                return -1
            tally = self.tally
            # The states of all texts in two batched reads, then applied in order
            # (a key changed twice must end with its last failure, not an earlier one).
            befores = iter(infos_of_texts([before for _, before, _ in changes if before is not None], strict=False))
            afters = iter(infos_of_texts([after for _, _, after in changes if after is not None], strict=False))
            for key, before, after in changes:
                if before is not None:
                    tally.add(key, next(befores), -1)
                if after is not None:
                    tally.add(key, next(afters), 1)
            self.changes += len(changes)
            return len(changes)

    def counts(self, now: float) -> dict[str, int]:
        with self.lock:
            return self.tally.counts(now)

    def failures(self) -> list[dict[str, Any]]:
        with self.lock:
            return self.tally.failure_groups()

    def failures_per_minute(self) -> list[list[int]]:
        with self.lock:
            return self.tally.failures_per_minute()

    def record(self, key: Key) -> Any:
        """The record of ``key`` as last read (``KeyError`` if absent)."""
        with self.lock:
            return self.store.value(key)

    def page(self, state: str, cursor: str | None, limit: int, now: float) -> dict[str, Any]:
        """Up to ``limit`` keys in ``state`` in insertion order, after the key ``cursor`` names.

        ``next`` is the cursor of the following page (None at the end); a
        page may hold fewer keys than asked when ``SCAN_BUDGET`` records were
        read without finding them all.
        """
        in_state(Info(0, None, None), state, now)  # ValueError for an unknown state
        after = None if cursor is None else _cursor_key(cursor)
        keys: list[Key] = []
        scanned = 0
        with self.lock:
            items = self.store.items() if after is None else self.store.items_after(after)
            while True:
                batch = list(islice(items, 500))
                if not batch:
                    return {"keys": keys, "next": None, "scanned": scanned}
                found, last, full = _pick(batch, state, now, limit - len(keys))
                keys += found
                scanned += len(batch)
                if full or scanned >= SCAN_BUDGET:
                    return {"keys": keys, "next": encode_key(last), "scanned": scanned}

    def close(self) -> None:
        self.store.close()


def _pick(batch: list[tuple[Key, str]], state: str, now: float, want: int) -> tuple[list[Key], Key, bool]:
    """The keys of ``batch`` in ``state`` (at most ``want``), the last key looked at, whether ``want`` were found."""
    found: list[Key] = []
    last = batch[0][0]
    for (key, _), info in zip(batch, infos_of_texts([text for _, text in batch])):
        last = key
        if in_state(info, state, now):
            found.append(key)
            if len(found) >= want:
                return found, last, True
    return found, last, False


def _cursor_key(cursor: str) -> Key:
    from tastypy.keys import key_from_json

    key: Key | None
    try:
        key = key_from_json(json.loads(cursor))
    except ValueError:
        key = None
    if key is None:
        raise ValueError(f"bad cursor {cursor!r}: give back the 'next' of the previous page")
    return key


class RedisWatch:
    """A RedisTracker: counters asked each refresh, records scanned every ``scan_every`` seconds."""

    kind = "redis"

    def __init__(self, tracker: Any, where: str, scan_every: float = 10.0) -> None:
        self.tracker = tracker
        self.where = where
        self.scan_every = scan_every
        self.lock = threading.Lock()
        self.changes = 0
        self.recounts = 0
        self._scanned = -float("inf")
        self._wait = scan_every
        self._counts = {"total": 0, "done": 0, "tried": 0, "aborted": 0}
        self.tally = _Tally()
        self.refresh()

    def refresh(self) -> int:
        tracker = self.tracker
        counts = {
            "total": len(tracker), "done": tracker.num_done(), "tried": tracker.num_tried(),
            "aborted": tracker.num_aborted(),
        }
        tally = None
        if time.monotonic() - self._scanned >= self._wait:
            began = time.monotonic()
            tally = _Tally()
            for key, value in self._items(0, None):
                tally.add(key, info_of(value), 1)
            self._scanned = time.monotonic()
            # A long scan is made less often: at most a tenth of the time goes to scanning.
            self._wait = max(self.scan_every, 10 * (self._scanned - began))
        with self.lock:
            changed: int = sum(abs(counts[name] - self._counts[name]) for name in counts)
            self._counts = counts
            if tally is not None:
                self.tally = tally
                self.recounts += 1
            return changed

    def _items(self, start: int, stop: int | None) -> Any:
        # The host's chunked items by position (what the face's iteration uses).
        link = self.tracker._link
        while stop is None or start < stop:
            chunk = link.call("items", start, 1000 if stop is None else min(1000, stop - start))
            yield from chunk
            if not chunk:
                return
            start += len(chunk)

    def counts(self, now: float) -> dict[str, int]:
        with self.lock:
            c = self._counts
            todo = max(0, c["total"] - c["done"] - c["aborted"])
            waiting = sum(1 for due in self.tally.due.values() if due > now)
            return {**c, "todo": todo, "waiting": waiting, "due": todo - waiting, "failed": len(self.tally.failures)}

    def failures(self) -> list[dict[str, Any]]:
        with self.lock:
            return self.tally.failure_groups()

    def failures_per_minute(self) -> list[list[int]]:
        with self.lock:
            return self.tally.failures_per_minute()

    def record(self, key: Key) -> Any:
        from tastypy.observe import unwrap

        if key not in self.tracker:
            raise KeyError(key)
        return unwrap(self.tracker[key])

    def page(self, state: str, cursor: str | None, limit: int, now: float) -> dict[str, Any]:
        """As ``FolderWatch.page``; the cursor is a position (keys deleted meanwhile shift it)."""
        in_state(Info(0, None, None), state, now)
        try:
            start = 0 if cursor is None else int(cursor)
        except ValueError:
            raise ValueError(f"bad cursor {cursor!r}: give back the 'next' of the previous page") from None
        keys: list[Key] = []
        position = start
        for key, value in self._items(start, start + SCAN_BUDGET):
            position += 1
            if in_state(info_of(value), state, now):
                keys.append(key)
                if len(keys) >= limit:
                    break
        at_end = position < start + SCAN_BUDGET and len(keys) < limit
        return {"keys": keys, "next": None if at_end else str(position), "scanned": position - start}

    def close(self) -> None:
        self.tracker.close()


def open_watch(target: str) -> FolderWatch | RedisWatch:
    """The watch of a folder path or ``URL#NAME`` (ValueError when it is not a tracker)."""
    from tastypy.redis.target import is_target

    if is_target(target):
        from tastypy.redis.target import open_target

        tracker = open_target(target)
        from tastypy.redis import RedisTracker

        if not isinstance(tracker, RedisTracker):
            tracker.close()
            raise ValueError(f"{target} holds a RedisPOD, not a tracker: serve shows trackers")
        return RedisWatch(tracker, target)
    try:
        return FolderWatch(Path(target).expanduser())
    except ValueError as exc:
        raise ValueError(f"{target} is not a tracker folder: a record {exc}") from None
