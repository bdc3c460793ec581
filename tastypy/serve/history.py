"""What serve saw of a job over time: rates, the done-per-minute series, the ETA.

The store keeps no time for a done mark, so this history is made of what
the server observes while it runs: one sample ``(time, done, settled)`` a
tick (``settled``: done or aborted, the keys that left the work). It is kept
in memory and is lost when the server stops; the counts themselves are
always read from the store.

The ETA divides what is left by the rate of the *current run*: the run
starts at the first change seen after a pause (no key settled for ``GAP``
seconds, or more when the job settles keys in bursts), so the time a job
was stopped never dilutes the rate after it resumes.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import Any

#: A pause at least this long (seconds) ends a run.
GAP = 60.0
#: The window of the ETA's rate (seconds), cut at the start of the run.
ETA_WINDOW = 300.0
#: The ETA waits for this much of a run (seconds).
ETA_MIN = 5.0
_KEEP = 600.0  # seconds of samples kept: the 10-minute rate


class History:
    """Samples of one server's life; every method takes the time as an argument (testable)."""

    def __init__(self, now: float, done: int, settled: int) -> None:
        self.started = now
        self.samples: deque[tuple[float, int, int]] = deque([(now, done, settled)])
        self.minutes: dict[int, int] = {}  # minute (Unix seconds // 60) -> done seen rising in it
        self.last_rise: float | None = None  # when `settled` last rose
        self.run: tuple[float, int, int] | None = None  # the sample that opened the current run
        self._intervals: deque[float] = deque(maxlen=20)  # between rises, for bursty jobs

    def gap(self) -> float:
        """How long without a settled key counts as a pause."""
        if len(self._intervals) < 3:
            return GAP
        return max(GAP, 5 * statistics.median(self._intervals))

    def observe(self, now: float, done: int, settled: int) -> None:
        """One tick: the counts as read from the store at ``now``."""
        last = self.samples[-1]
        if done > last[1]:
            minute = int(now // 60)
            self.minutes[minute] = self.minutes.get(minute, 0) + done - last[1]
        if settled > last[2]:
            if self.last_rise is None or now - self.last_rise > self.gap():
                # A resume (or the first change seen): the run opens here, and the
                # keys of this first rise, settled at unknown times before, are not counted.
                self.run = (now, done, settled)
            if self.last_rise is not None:
                self._intervals.append(now - self.last_rise)
            self.last_rise = now
        self.samples.append((now, done, settled))
        while len(self.samples) > 2 and self.samples[1][0] <= now - _KEEP:
            self.samples.popleft()

    def _since(self, start: float) -> tuple[float, int, int]:
        """The latest sample at or before ``start``, else the oldest one."""
        found = self.samples[0]
        for sample in self.samples:
            if sample[0] > start:
                break
            found = sample
        return found

    def rate(self, now: float, seconds: float) -> float:
        """Keys done a second over the last ``seconds`` (or since the server started)."""
        t0, done0, _ = self._since(now - seconds)
        t1, done1, _ = self.samples[-1]
        return max(0, done1 - done0) / (t1 - t0) if t1 > t0 else 0.0

    def eta(self, now: float, todo: int) -> dict[str, Any]:
        """Seconds left at the current run's rate, or why there is none."""
        if todo == 0:
            return {"seconds": 0.0, "state": "finished", "rate": None, "run_started": self._run_start()}
        if self.run is None or self.last_rise is None:
            return {"seconds": None, "state": "waiting for the first change", "rate": None, "run_started": None}
        if now - self.last_rise > self.gap():
            return {"seconds": None, "state": "paused", "rate": None, "run_started": self.run[0]}
        start = self.run if self.run[0] >= now - ETA_WINDOW else self._since(now - ETA_WINDOW)
        t1, _, settled1 = self.samples[-1]
        span = t1 - start[0]
        if span < ETA_MIN or settled1 <= start[2]:
            return {"seconds": None, "state": "measuring", "rate": None, "run_started": self.run[0]}
        rate = (settled1 - start[2]) / span
        return {"seconds": todo / rate, "state": "running", "rate": rate, "run_started": self.run[0]}

    def _run_start(self) -> float | None:
        return None if self.run is None else self.run[0]

    def series(self) -> list[list[int]]:
        """``[minute start (Unix seconds), done seen in it]`` from the server's start, every minute."""
        first = int(self.started // 60)
        last = int(self.samples[-1][0] // 60)
        return [[m * 60, self.minutes.get(m, 0)] for m in range(first, last + 1)]
