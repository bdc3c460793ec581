"""What the server runs: the hosted POD or Tracker, its user lock, its clients.

``Host.run`` looks a request's name up in one table (name -> handler) and
runs it. The server's loop asks ``blocks()`` first: while one client holds
the user lock, the others' requests wait (the loop keeps them).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from tastypy.observe import apply, unwrap
from tastypy.operations import OPERATIONS, of

#: Requests that never wait for another client's user lock.
NO_WAIT = frozenset(operation.name for operation in OPERATIONS if operation.no_wait)


class Host:
    """The hosted POD or Tracker, and who may act on it now.

    ``cid`` identifies a client process; ``clients`` counts its open
    connections. The user lock belongs to one ``cid`` (reentrant: ``depth``).
    """

    def __init__(self, pod: Any, kind: str) -> None:
        self.pod = pod
        self.name = "SharedTracker" if kind == "tracker" else "SharedPOD"
        self.work = pod._work if kind == "tracker" else None
        if self.work is not None:
            self.work.alive = self.alive  # its loops are the clients' (mark_done and abort free their keys)
        self.clients: dict[Any, int] = {}
        self.holder: Any = None
        self.depth = 0
        self.closed = False
        self.table = self._table()

    # -- clients and the user lock ---------------------------------------------

    def join(self, cid: Any) -> None:
        """A connection of ``cid`` opened."""
        self.clients[cid] = self.clients.get(cid, 0) + 1

    def leave(self, cid: Any) -> bool:
        """A connection of ``cid`` closed; True if that freed the user lock."""
        left = self.clients[cid] - 1
        if left:
            self.clients[cid] = left
            return False
        del self.clients[cid]
        if self.holder != cid:
            return False
        self.holder, self.depth = None, 0
        return True

    def alive(self, cid: Any) -> bool:
        """Whether a connection of client ``cid`` is still open."""
        return cid in self.clients

    def blocks(self, cid: Any, name: str) -> bool:
        """Whether request ``name`` of ``cid`` must wait for another's user lock."""
        return self.holder is not None and self.holder != cid and name not in NO_WAIT

    @staticmethod
    def deadline(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> float | None:
        """When a waiting ``lock(timeout)`` gives up (None: never)."""
        if name != "lock":
            return None
        timeout: float | None = args[0] if args else kwargs.get("timeout")
        if timeout is None or timeout < 0:
            return None
        return time.monotonic() + timeout

    # -- running a request ---------------------------------------------------------

    def run(self, cid: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run request ``name`` of ``cid`` (which ``blocks()`` let through)."""
        handler = self.table.get(name)
        if handler is None:
            raise self.unknown(name)
        return handler(cid, *args, **kwargs)

    def unknown(self, name: str) -> AttributeError:
        """The error of a request no handler answers."""
        return AttributeError(f"{type(self.pod).__name__} has no method {name!r} a client may call")

    def _table(self) -> dict[str, Callable[..., Any]]:
        """Name -> handler, from ``tastypy.operations`` (a POD's, or a tracker's too)."""
        return {
            operation.name: self._method(operation.method)
            if operation.method
            else getattr(self, f"_{operation.name}")
            for operation in of(self.work is not None)
        }

    def _method(self, name: str) -> Callable[..., Any]:
        method = getattr(self.pod, name)

        def run(cid: Any, *args: Any, **kwargs: Any) -> Any:
            return unwrap(method(*args, **kwargs))

        return run

    def _lock(self, cid: Any, timeout: float | None = None) -> bool:
        self.holder = cid
        self.depth += 1
        return True

    def _unlock(self, cid: Any) -> None:
        if self.holder != cid:
            raise RuntimeError(f"{self.name} at {self.pod.path}: unlock() by a process that does not hold the lock")
        self.depth -= 1
        if self.depth == 0:
            self.holder = None

    def _get(self, cid: Any, key: Any) -> tuple[bool, Any]:
        if key in self.pod:
            return True, unwrap(self.pod[key])
        return False, None

    def _apply(self, cid: Any, op: Any) -> Any:
        result = apply(op, self.pod)
        return None if result is None else unwrap(result)  # None: most changes

    def _apply_many(self, cid: Any, ops: list[Any]) -> None:
        """Apply ``ops`` in order, in one step (no other request runs between them)."""
        pod = self.pod
        with pod._lock:
            for op in ops:
                apply(op, pod)

    def _keys(self, cid: Any, start: int, count: int) -> list[Any]:
        return list(itertools.islice(self.pod, start, start + count))

    def _items(self, cid: Any, start: int, count: int) -> list[tuple[Any, Any]]:
        pod = self.pod
        return [(key, unwrap(pod[key])) for key in itertools.islice(pod, start, start + count)]

    def _scan(
        self, cid: Any, start: int, count: int, test: str, allow_aborted: bool, values: bool
    ) -> tuple[list[Any], int, bool]:
        """Keys (or items) from ``start`` that pass ``test``, and where to go on."""
        pod = self.pod
        if test == "todo":
            keep = [
                key
                for key in itertools.islice(pod, start, start + count)
                if pod.should_do(key, allow_aborted)
            ]
        else:
            keep = [key for key in itertools.islice(pod, start, start + count) if pod.aborted(key)]
        if values:
            keep = [(key, unwrap(pod[key])) for key in keep]
        return keep, start + count, start + count >= len(pod)

    def _equals(self, cid: Any, other: dict[Any, Any]) -> bool:
        equal: bool = self.pod == other
        return equal

    def _attr(self, cid: Any, name: str) -> Any:
        if name != "max_tries":
            raise AttributeError(name)
        return getattr(self.pod, name)

    def _next(self, cid: Any, task: Any, start: int, allow_aborted: bool, values: bool) -> Any:
        return self.work.next(cid, task, start, allow_aborted, values)  # type: ignore[union-attr]

    def _drop(self, cid: Any, task: Any) -> None:
        self.work.end((cid, task))  # type: ignore[union-attr]

    def _exit_sync(self, cid: Any) -> None:
        self.pod.sync()

    def _close(self, cid: Any) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Sync, release the folder and stop serving."""
        if not self.closed:
            self.closed = True
            self.pod.close()
