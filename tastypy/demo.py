"""``tastypy demo``: a resumable crawl of a generated site, shared by a pool of workers.

No network: the site is made up from a seed (pages, titles, links, slow
pages, broken pages), and a fetch is a short sleep that sometimes fails.
The job's state is a ``SharedTracker`` with ``max_tries=3`` (or, with
``--redis URL``, a ``RedisTracker`` that workers on other machines can
join): interrupt it with Ctrl-C, run it again, and it goes on where it
stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing import Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tastypy.failures import exponential
from tastypy.pod import POD
from tastypy.progress import Counts, LiveBar

if TYPE_CHECKING:
    from tastypy.shared.face import ClientTracker

MAX_TRIES = 3
#: Seconds a failed fetch waits before its next try: 0.05, 0.1, 0.2... at most 1.
BACKOFF = exponential(first=0.05, cap=1.0)
#: Share of pages that answer slowly, and of pages that always fail.
SLOW_RATE = 0.01
BROKEN_RATE = 0.005
_WORDS = (
    "persistent ordered tasty python json shard journal tracker crawl resume "
    "worker queue sync folder record progress retry seed page link"
).split()


class Interrupted(Exception):
    """A page's last try was cut short (Ctrl-C) and it has no try left."""


class FetchError(Exception):
    """A simulated fetch failed (timeout, server error)."""


class Site:
    """A made-up site: the same pages, links and failures for the same seed."""

    def __init__(self, pages: int, seed: int, fail_rate: float) -> None:
        self.pages = pages
        self.seed = seed
        self.fail_rate = fail_rate

    def urls(self) -> list[str]:
        """Every page, as a sitemap would list them."""
        return [f"/page/{n}" for n in range(self.pages)]

    def fetch(self, url: str, attempt: int) -> dict[str, Any]:
        """The page at ``url`` (title, links, size), or FetchError; takes a few ms, or longer."""
        seconds, page = self._answer(url, attempt)
        time.sleep(seconds)
        if isinstance(page, FetchError):
            raise page
        return page

    async def afetch(self, url: str, attempt: int) -> dict[str, Any]:
        """``fetch`` for asyncio: the wait is an ``asyncio.sleep``."""
        seconds, page = self._answer(url, attempt)
        await asyncio.sleep(seconds)
        if isinstance(page, FetchError):
            raise page
        return page

    def _answer(self, url: str, attempt: int) -> tuple[float, dict[str, Any] | FetchError]:
        """How long the server takes, and the page or the error it answers."""
        number = int(url.rsplit("/", 1)[1])
        rng = random.Random(f"{self.seed}/{number}")
        slow = rng.random() < SLOW_RATE
        seconds = rng.uniform(0.1, 0.4) if slow else rng.uniform(0.001, 0.008)
        if rng.random() < BROKEN_RATE:
            return seconds, FetchError("500 internal server error")
        if random.Random(f"{self.seed}/{number}/{attempt}").random() < self.fail_rate:
            return seconds, FetchError("timed out")
        # A few pages draw most links, as on real sites.
        targets = {int(self.pages * rng.random() ** 3) for _ in range(rng.randint(2, 9))} - {number}
        return seconds, {
            "title": " ".join(rng.choice(_WORDS) for _ in range(3)).capitalize(),
            "links": [f"/page/{n}" for n in sorted(targets)],
            "bytes": rng.randint(2_000, 80_000),
        }


# -- the workers -----------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start_worker(tracker: Any, site: Site) -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker.update(tracker=tracker, site=site)


def _crawl(_: int) -> int:
    """Fetch pages until no key is left to try; the number of pages fetched.

    A failed fetch is recorded by ``attempt()`` (``_error``), waits its
    backoff, and comes back to whichever worker asks once it is due; at
    ``MAX_TRIES`` it is aborted. ``tastypy failures`` shows them.
    """
    tracker, site = _worker["tracker"], _worker["site"]
    fetched = 0
    for url in tracker.try_keys():
        with tracker.attempt(url) as attempt:
            tracker.update({url: site.fetch(url, attempt.record["_tries"])})
            fetched += 1  # (not reached when the fetch failed)
    return fetched


# -- the parent --------------------------------------------------------------------


def run(
    folder: Path, pages: int = 3000, workers: int | None = None, fail_rate: float = 0.1,
    seed: int = 7, out: TextIO | None = None, redis: str | None = None,
) -> int:
    """Run (or resume) the crawl in ``folder``; the exit status (130 when interrupted).

    With ``redis`` (a Redis URL) the state is the RedisTracker named
    ``folder`` in that database instead.
    """
    from tastypy import SharedTracker
    from tastypy.redis.connect import mask

    out = out or sys.stdout
    # Fetching is waiting, not computing: more workers than cores pay off.
    workers = workers or 4
    site = Site(pages, seed, fail_rate)
    started = time.monotonic()
    finished = True
    tracker: ClientTracker[str, Any]
    if redis:
        from tastypy import RedisTracker  # needs redis-py: only here

        tracker = RedisTracker(redis, str(folder), max_tries=MAX_TRIES, backoff=BACKOFF)
        where, state = f"{redis}#{folder}", f"{mask(redis)}#{folder}"
    else:
        tracker = SharedTracker(folder, max_tries=MAX_TRIES, backoff=BACKOFF)
        where = state = str(folder)
    try:
        known = len(tracker)
        tracker.add_many_if_absent(site.urls())
        counts = Counts.of_tracker(tracker)
        if _announce(known, counts, f"{workers} workers", state, out):
            finished = _crawl_all(tracker, site, workers, counts)
            if finished:
                _give_up(tracker)
    finally:
        tracker.close()
    return _ending(finished, where, state, started, out)


def run_async(
    folder: Path, pages: int = 3000, workers: int | None = None, fail_rate: float = 0.1,
    seed: int = 7, out: TextIO | None = None,
) -> int:
    """``run``, in one process: 25 coroutines a worker on an ``AsyncTracker``."""
    out = out or sys.stdout
    site = Site(pages, seed, fail_rate)
    started = time.monotonic()
    try:
        finished = asyncio.run(_crawl_coroutines(folder, site, 25 * (workers or 4), out))
    except KeyboardInterrupt:  # asyncio.run cancelled the crawl: the tracker closed, synced
        finished = False
    return _ending(finished, str(folder), str(folder), started, out)


async def _crawl_coroutines(folder: Path, site: Site, coroutines: int, out: TextIO) -> bool:
    from tastypy import AsyncTracker

    async with AsyncTracker(folder, max_tries=MAX_TRIES, backoff=BACKOFF) as tracker:

        async def counts() -> Counts:
            total, done, aborted = await tracker.length(), await tracker.num_done(), await tracker.num_aborted()
            return Counts(total, done, await tracker.num_tried(), aborted, max(0, total - done - aborted))

        known = await tracker.length()
        await tracker.add_many_if_absent(site.urls())
        if not _announce(known, await counts(), f"{coroutines} coroutines", str(folder), out):
            return True

        async def crawl() -> None:
            async for url in tracker.try_keys():
                async with tracker.attempt(url) as attempt:
                    await tracker.update({url: await site.afetch(url, attempt.record["_tries"])})

        bar = LiveBar(await counts(), unit="page")
        try:
            crawls = asyncio.gather(*(crawl() for _ in range(coroutines)))
            # Ctrl-C cancels them all as asyncio.run ends: that is no error to report.
            crawls.add_done_callback(lambda done: done.cancelled() or done.exception())
            while not crawls.done():
                await asyncio.wait([crawls], timeout=0.2)
                bar.update(await counts())
            await crawls
            bar.update(await counts(), force=True)
        finally:
            bar.close()
        async for url, page in tracker.items():  # as _give_up
            if not (page["_done"] or page["_aborted"]):
                await tracker.mark_failed(url, Interrupted("its last try was interrupted"))
    return True


def _announce(known: int, counts: Counts, workers: str, state: str, out: TextIO) -> bool:
    """Say what the run is about to do; False when there is nothing left to do."""
    if not counts.todo:
        print(f"already finished: {counts.done:,} of {counts.total:,} done"
              f" (remove {state} to start over)", file=out)
        return False
    if known:
        print(f"resuming: {counts.done:,} of {counts.total:,} done", file=out)
    else:
        print(f"crawling {counts.total:,} pages of a generated site with {workers}, state in {state}", file=out)
    print("Ctrl-C stops it; the same command resumes it.", file=out, flush=True)
    return True


def _ending(finished: bool, where: str, state: str, started: float, out: TextIO) -> int:
    """The last lines, and the exit status (130 when interrupted)."""
    if not finished:
        with _reading(where) as records:
            counts = Counts.of_records(records)
        print(f"\ninterrupted: {counts.done:,} of {counts.total:,} done, synced to {state};"
              " run the same command again to resume", file=out)
        return 130
    _print_summary(where, state, time.monotonic() - started, out)
    return 0


def _crawl_all(tracker: Any, site: Site, workers: int, counts: Counts) -> bool:
    """Run the pool with a live bar; False when Ctrl-C stopped it."""
    bar = LiveBar(counts, unit="page")
    pool = Pool(workers, initializer=_start_worker, initargs=(tracker, site))
    try:
        result = pool.map_async(_crawl, range(workers))
        while not result.ready():
            result.wait(0.2)
            bar.update(Counts.of_tracker(tracker))
        result.get()
        bar.update(Counts.of_tracker(tracker), force=True)
        return True
    except KeyboardInterrupt:
        return False
    finally:
        bar.close()
        pool.terminate()
        pool.join()


def _give_up(tracker: Any) -> None:
    """Abort the pages left with no try: their last one was cut short by Ctrl-C."""
    if not Counts.of_tracker(tracker).todo:
        return
    for url, page in tracker.items():
        if not (page["_done"] or page["_aborted"]):
            tracker.mark_failed(url, Interrupted("its last try was interrupted"))


@contextlib.contextmanager
def _reading(where: str) -> Iterator[list[Any]]:
    """The records as a fresh reader finds them: in the folder, or in Redis (``URL#NAME``)."""
    from tastypy.redis import is_target, open_target

    pod = open_target(where) if is_target(where) else POD(where, mode="r")
    with pod:
        yield [value for _, value in pod.items()]


def _print_summary(where: str, state: str, seconds: float, out: TextIO) -> None:
    """What the crawl found, read back from where it is kept."""
    with _reading(where) as records:
        counts = Counts.of_records(records)
        links = Counter(link for record in records for link in record.get("links", ()))
    print(f"finished: {counts.done:,} of {counts.total:,} pages crawled, {counts.aborted:,}"
          f" aborted after {MAX_TRIES} tries ({seconds:.1f} s)", file=out)
    if links:
        page, n = links.most_common(1)[0]
        print(f"most linked page: {page} ({n:,} links point to it)", file=out)
        print(f"look inside:  tastypy progress {state}   tastypy get {state} {page}", file=out)
        if counts.aborted:
            print(f"what failed:  tastypy failures {state}", file=out)
