"""Async links over blocking hosts: worker threads fed by a queue, futures resolved on the loop.

``FolderLink``: one writer thread runs a local POD or Tracker (through the
shared server's ``Host``, so the operations and the claims are the same).
It takes every request queued meanwhile as one batch, runs them with the
automatic sync held, then syncs once if ``sync_at`` was reached, or if a
``sync()`` or a durable operation (a try counted as a key is handed out)
ran in the batch, and only then resolves their
futures: many coroutines awaiting durability share one commit and one
fsync (group commit). The loop's thread never takes the tracker's lock.

``ThreadLink``: a few threads, each with its own blocking connection
(``tastypy.shared.link.Link``), one call in flight each.

(The Redis faces need no thread: ``redis_link.AsyncRedisLink``.)
"""

from __future__ import annotations

import asyncio
import pickle
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from tastypy.operations import BY_NAME
from tastypy.work import LOCAL

#: The folder link's client of its host (its loops' claims are this one's).
ASYNC = "async"
#: Seconds aclose() waits for a worker thread to end.
JOIN = 60.0

#: Seconds of a batch's work after which the writer lets the loop's thread run.
YIELD = 0.001

_STOP: Any = object()


class _Workers:
    """Threads taking ``(name, args, kwargs, future)`` from one queue."""

    what = "tastypy"
    where = ""

    def __init__(self, threads: int) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{self.what} {i}", daemon=True) for i in range(threads)
        ]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended: list[asyncio.Future[None]] = []
        self.closed = False
        self._closing = threading.Lock()  # held only to queue a call, or to close and drain

    def _start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._ended = [loop.create_future() for _ in self._threads]
        for thread in self._threads:
            thread.start()

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run operation ``name`` on a worker thread; its result or its error."""
        future = asyncio.get_running_loop().create_future()
        with self._closing:  # never queued after the writer's last look at the queue
            if self.closed:
                raise ValueError(f"{self.what} at {self.where} is closed; open it again to use it")
            self._queue.put((name, args, kwargs, future))
        return await future

    def post(self, name: str, *args: Any) -> None:
        """Send ``name`` without waiting for it (dropped once closed)."""
        if not self.closed:
            self._queue.put((name, args, {}, None))

    def _done(self, results: list[tuple[Any, bool, Any]]) -> None:
        # On the loop's thread: one wake-up for a whole batch.
        for future, ok, value in results:
            if future is None or future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _report(self, results: list[tuple[Any, bool, Any]]) -> None:
        assert self._loop is not None
        if results:
            try:
                self._loop.call_soon_threadsafe(self._done, results)
            except RuntimeError:
                pass  # the loop is closed: nobody waits any more

    def _ended_here(self, index: int) -> None:
        assert self._loop is not None
        future = self._ended[index]

        def end() -> None:
            if not future.done():
                future.set_result(None)

        try:
            self._loop.call_soon_threadsafe(end)
        except RuntimeError:
            pass

    async def _stop(self) -> None:
        """Stop every thread after the requests queued so far, and wait for them."""
        self.closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        await asyncio.gather(*self._ended)
        for thread in self._threads:
            thread.join(JOIN)  # it said it ends: this returns at once

    def _serve(self) -> None:
        raise NotImplementedError


class FolderLink(_Workers):
    """A local POD or Tracker on one writer thread, with group commit."""

    def __init__(self, opener: Callable[[], Any], what: str, where: str) -> None:
        self.what, self.where = what, where
        super().__init__(1)
        self._opener = opener
        self.host: Any = None
        self._user_held = False
        self.syncs = 0  # syncs run, for the benchmarks and tests

    async def open(self) -> Any:
        """Open the host on the writer thread; the opened host."""
        self._start()
        try:
            return await self.call("_open")
        except BaseException:
            await self._stop()  # no thread outlives a failed open
            raise

    async def aclose(self) -> None:
        """Close the host (it syncs) and end the writer thread."""
        if self.closed:
            return
        try:
            await self.call("close")
        finally:
            await self._stop()

    def _serve(self) -> None:
        get = self._queue.get
        try:
            while self._batch([get(), *self._drain()]):
                pass
            # Closed: what was queued behind the close is refused, not left waiting.
            with self._closing:
                self.closed = True
                left = self._drain()
            self._refuse(left, self._closed_error())
        finally:
            self._ended_here(0)

    def _batch(self, batch: list[Any]) -> bool:
        """Run one batch; False once the host is closed or told to stop."""
        results: list[tuple[Any, bool, Any]] = []
        host = self.host
        going = True
        if host is None:  # the first request opens the host
            future = batch.pop(0)[3]
            try:
                self.host = host = self._open()
            except Exception as exc:  # noqa: BLE001  (the opener gets it)
                self._report([(future, False, exc)])
                self._refuse(batch, exc)
                return False
            results.append((future, True, host))
        pod = host.pod
        synced: list[tuple[Any, bool, Any]] = []
        due = time.perf_counter() + YIELD
        with pod._lock:
            pod.hold()
            try:
                for item in batch:
                    if item is _STOP:
                        going = False
                        continue
                    if host.closed:
                        results.append((item[3], False, self._closed_error()))
                        continue
                    self._run(host, item, results, synced)
                    if time.perf_counter() > due:
                        # Lets the loop's thread take the GIL: a long batch would
                        # otherwise hold it for the interpreter's switch interval.
                        time.sleep(0)
                        due = time.perf_counter() + YIELD
                if synced and not host.closed and len(pod._dirty) < pod._sync_at:
                    # What the sync Tracker would answer before its sync is
                    # answered now: while this sync runs, those coroutines queue
                    # their next requests, and the next sync serves them all.
                    self._report(results)
                    results = []
            finally:
                if not host.closed:
                    try:
                        self._end_batch(pod, synced)
                    except Exception as exc:  # noqa: BLE001  (the writers get it)
                        # The batch's writes are not on disk: every caller hears so.
                        results = [(future, False, exc) for future, _, _ in results]
                        synced = [(future, False, exc) for future, _, _ in synced]
        self._report(results + synced)
        return going and not host.closed

    def _drain(self) -> list[Any]:
        """The requests queued now, without waiting."""
        batch = []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return batch

    def _open(self) -> Any:
        host = self._opener()
        host.join(ASYNC)
        host.join(LOCAL)  # the tracker's own threads keep their claims
        return host

    def _run(self, host: Any, item: Any, results: list[Any], synced: list[Any]) -> None:
        name, args, kwargs, future = item
        if name == "sync":
            synced.append((future, True, None))  # one sync for the batch, at its end
            return
        if name in ("hold", "unhold"):
            self._user_held = name == "hold"
            results.append((future, True, None))
            return
        operation = BY_NAME[name]
        answers = synced if operation.durable else results  # a durable one waits for the sync
        try:
            value = host.run(ASYNC, name, args, kwargs)
            if operation.value:
                # A copy, the caller's and not the store's (our own bytes, in memory).
                value = pickle.loads(pickle.dumps(value, 5))  # noqa: S301
        except Exception as exc:  # noqa: BLE001  (its caller gets it)
            answers.append((future, False, exc))
        else:
            answers.append((future, True, value))

    def _end_batch(self, pod: Any, synced: list[Any]) -> None:
        if synced:
            pod.sync()
            self.syncs += 1
        if self._user_held:
            return
        due = len(pod._dirty) >= pod._sync_at
        pod.unhold()  # syncs if sync_at is reached
        self.syncs += due

    def _closed_error(self) -> ValueError:
        return ValueError(f"{self.what} at {self.where} is closed; open it again to use it")

    def _refuse(self, batch: list[Any], error: BaseException) -> None:
        self._report([(item[3], False, error) for item in batch if item is not _STOP])


class ThreadLink(_Workers):
    """A blocking link (``tastypy.shared.link.Link``) run on a few threads, one call each."""

    def __init__(self, opener: Callable[[], Any], what: str, threads: int) -> None:
        self.what, self.where = what, "(opening)"
        super().__init__(threads)
        self._opener = opener
        self.face: Any = None
        self._owner = False

    async def open(self, owner: bool) -> Any:
        """Make the sync face (starting a server if ``owner``) on a worker thread."""
        self._owner = owner
        self._start()
        try:
            face = await self.call("_open")
        except BaseException:
            await self._stop()  # no thread outlives a failed open
            raise
        self.where = face._link.where
        return face

    async def aclose(self) -> None:
        """Close: the server stops if this object started it; every thread's connection closes."""
        if self.closed:
            return
        try:
            if self._owner and self.face is not None:
                await self.call("_close")
        finally:
            await self._stop()

    def _serve(self) -> None:
        index = self._threads.index(threading.current_thread())
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                name, args, kwargs, future = item
                try:
                    if name == "_open":
                        value = self.face = self._opener()
                    elif name == "_close":
                        value = self.face.close()
                    else:
                        value = self.face._link.call(name, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001  (its caller gets it)
                    self._report([(future, False, exc)])
                else:
                    self._report([(future, True, value)])
        finally:
            if self.face is not None:
                self.face._link.close()  # this thread's connection
            self._ended_here(index)
