"""Progress of a tracker, counted and shown: the bars of the CLI, the demo and ``try_keys``.

Bars are tqdm's (an optional dependency: ``pip install tqdm``, or the ``[cli]``
extra of tastypy's clone or wheel).
``try_keys(progress=True)`` needs it, on the sync and the async faces; the
command line falls back to plain text lines when it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, TextIO, TypeVar

T = TypeVar("T")

# Not `pip install tastypy[...]`: the package index's "tastypy" is another project.
_INSTALL = "pip install tqdm (tastypy's [cli] extra)"


def require_tqdm(feature: str) -> Any:
    """The ``tqdm`` class; ImportError saying what to install when it is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        raise ImportError(f"{feature} draws its bar with tqdm, which is not installed: {_INSTALL}") from None
    return tqdm


class Counts(NamedTuple):
    """How far a tracker is; ``todo`` counts the keys neither done nor aborted."""

    total: int
    done: int
    tried: int
    aborted: int
    todo: int

    @classmethod
    def of_records(cls, records: Iterable[Mapping[str, Any]]) -> Counts:
        """Count plain task records (``tastypy.records`` says what one is)."""
        total = done = tried = aborted = todo = 0
        for record in records:
            total += 1
            done += bool(record["_done"])
            aborted += bool(record["_aborted"])
            tried += record["_tries"] > 0
            todo += not (record["_done"] or record["_aborted"])
        return cls(total, done, tried, aborted, todo)

    @classmethod
    def of_tracker(cls, tracker: Any) -> Counts:
        """Ask a Tracker or SharedTracker (its O(1) counters).

        ``todo`` assumes no key is both done and aborted (the counters cannot tell).
        """
        total, done, aborted = len(tracker), tracker.num_done(), tracker.num_aborted()
        return cls(total, done, tracker.num_tried(), aborted, max(0, total - done - aborted))

    @classmethod
    async def of_async_tracker(cls, tracker: Any) -> Counts:
        """Ask an async tracker (``tastypy.aio``): its four counts in one round of calls."""
        total, done, tried, aborted = await asyncio.gather(
            tracker.length(), tracker.num_done(), tracker.num_tried(), tracker.num_aborted()
        )
        return cls(total, done, tried, aborted, max(0, total - done - aborted))


def bar_over(keys: Iterable[T], tracker: Any, unit: str = "key") -> Iterator[T]:
    """``keys`` (from ``tracker.try_keys()``), with a bar of the tracker's done keys.

    The bar starts at what is already done, so a resumed job starts at the
    right place; tried and aborted counts ride along. Raises ImportError at
    once (not at the first ``next``) when tqdm is missing.
    """
    tqdm = require_tqdm("try_keys(progress=True)")
    counts = Counts.of_tracker(tracker)
    return _follow(keys, tracker, tqdm(total=counts.total, initial=counts.done, unit=unit))


def _follow(keys: Iterable[T], tracker: Any, bar: Any) -> Iterator[T]:
    with bar:
        for key in keys:
            show(bar, Counts.of_tracker(tracker))
            yield key
        show(bar, Counts.of_tracker(tracker))


def async_bar_over(keys: AsyncIterator[T], tracker: Any, unit: str = "key") -> AsyncIterator[T]:
    """``bar_over`` for an async tracker's loop (``async for``): the same bar, drawn the same way.

    ImportError at once when tqdm is missing; the counts are read (awaited)
    from the first step on. Closing it closes ``keys``, so the loop's claim
    ends with it.
    """
    tqdm = require_tqdm("try_keys(progress=True)")
    return _follow_async(keys, tracker, tqdm, unit)


async def _follow_async(keys: AsyncIterator[T], tracker: Any, tqdm: Any, unit: str) -> AsyncIterator[T]:
    async with contextlib.aclosing(keys):  # type: ignore[type-var]
        counts = await Counts.of_async_tracker(tracker)
        with tqdm(total=counts.total, initial=counts.done, unit=unit) as bar:
            async for key in keys:
                show(bar, await Counts.of_async_tracker(tracker))
                yield key
            show(bar, await Counts.of_async_tracker(tracker))


def show(bar: Any, counts: Counts) -> None:
    """Bring a tqdm bar to ``counts`` (done is the bar; tried and aborted ride along)."""
    if bar.total != counts.total:
        bar.total = counts.total
    bar.set_postfix_str(f"tried {counts.tried:,}, aborted {counts.aborted:,}", refresh=False)
    bar.update(counts.done - bar.n)


class LiveBar:
    """A bar that follows counts you read elsewhere: tqdm's, or plain lines without it.

    ``update(counts)`` as often as you like; without tqdm a line is printed
    every ``every`` seconds (fit for logs and terminals alike).
    """

    def __init__(self, counts: Counts, unit: str = "key", file: TextIO | None = None, every: float = 2.0):
        self.file = file or sys.stderr
        self.every = every
        self.unit = unit
        self.start = (time.monotonic(), counts.done)
        self.printed = 0.0
        try:
            tqdm = require_tqdm("the live bar")
        except ImportError:
            self.bar = None
        else:
            self.bar = tqdm(
                total=counts.total, initial=counts.done, unit=unit, file=self.file,
                desc="done", dynamic_ncols=True, smoothing=0.1,
            )

    def update(self, counts: Counts, force: bool = False) -> None:
        if self.bar is not None:
            show(self.bar, counts)
            return
        now = time.monotonic()
        if force or now - self.printed >= self.every:
            self.printed = now
            print(self.line(counts, now), file=self.file, flush=True)

    def line(self, counts: Counts, now: float) -> str:
        """The plain-text form: done / total, tried, aborted, rate and ETA."""
        began, done0 = self.start
        rate = (counts.done - done0) / max(now - began, 1e-9)
        eta = f"{_clock(counts.todo / rate)}" if rate > 0 else "?"
        percent = 100 * counts.done / counts.total if counts.total else 100.0
        return (
            f"done {counts.done:,} / {counts.total:,} ({percent:.1f} %), tried {counts.tried:,},"
            f" aborted {counts.aborted:,}, {rate:,.1f} {self.unit}s/s, ETA {eta}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def static_bar(counts: Counts, width: int = 40) -> str | None:
    """One still line of a bar (tqdm's drawing) for a printed report; None without tqdm."""
    try:
        tqdm = require_tqdm("the bar")
    except ImportError:
        return None
    line: str = tqdm.format_meter(
        counts.done, counts.total, 0, ncols=width + 20, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}"
    )
    return line


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
