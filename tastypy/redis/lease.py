"""What this process holds on Redis servers (claims, locks), the thread that renews it, and the lock.

A claim on a task or a lock lasts ``lease`` seconds of the server's clock.
While the process lives, one daemon thread extends those of the blocking
links every quarter of the shortest lease (every second at most); when the
process dies (or its machine, or its network), they expire and go to the
next process that asks. The async links are renewed by one task per event
loop instead (``tastypy.aio.redis_link``), on the same schedule.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
import weakref
from typing import Protocol, TypedDict

from tastypy.redis import plan
from tastypy.redis.calls import Scripts
from tastypy.redis.plan import Plan

#: Seconds between two tries to take a lock held by another process.
POLL = 0.05


class Renewable(Protocol):
    """What the renewer keeps alive: a link with a lease, until it is closed."""

    @property
    def lease(self) -> float: ...

    @property
    def closed(self) -> bool: ...

    def renew(self) -> None: ...

#: The longest pause of the renewer thread (seconds).
TICK = 1.0


class _Held(TypedDict):
    """What this process holds: its pid, its token, its locks' depths by ``(url, name)``, those lost."""

    pid: int | None
    token: str
    locks: dict[tuple[str, str], int]
    lost: set[tuple[str, str]]


_process: _Held = {"pid": None, "token": "", "locks": {}, "lost": set()}


def _mine() -> _Held:
    if _process["pid"] != os.getpid():
        # A new process (a fork too) holds nothing yet, under a token of its own.
        token = f"{os.getpid()}-{os.urandom(8).hex()}"
        _process.update({"pid": os.getpid(), "token": token, "locks": {}, "lost": set()})
    return _process


def process_token() -> str:
    """This process's id on the servers: claims and locks are held under it."""
    return _mine()["token"]


def held_locks() -> dict[tuple[str, str], int]:
    """``(url, name) -> depth`` of the locks this process holds."""
    return _mine()["locks"]


def lost_locks() -> set[tuple[str, str]]:
    """``(url, name)`` of the locks this process held and found taken from it (until its unlock())."""
    return _mine()["lost"]


class Renewer:
    """Extends the claims and locks of this process's links, in a daemon thread."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.links: weakref.WeakSet[Renewable] = weakref.WeakSet()
        self.guard = threading.Lock()
        self.wake = threading.Event()
        self.tick = TICK

    def forked(self) -> None:
        """In a forked child: the parent's thread is not here, its lock may be held."""
        self.guard = threading.Lock()
        self.wake = threading.Event()
        self.tick = TICK
        self.pid = None

    def watch(self, link: Renewable) -> None:
        """Renew ``link``'s claims and lock from now on (starting the thread if needed)."""
        with self.guard:
            if self.pid != os.getpid():
                self.pid = os.getpid()
                self.links = weakref.WeakSet()
                threading.Thread(target=self._run, name="tastypy redis renewer", daemon=True).start()
            self.links.add(link)
            if link.lease / 4 < self.tick:
                self.wake.set()  # renew it before the thread's current pause ends

    def _run(self) -> None:
        import redis

        while True:
            with self.guard:
                links = [link for link in self.links if not link.closed]
                if not links:
                    # Nothing left to renew: end, so that a program that is
                    # done with Redis forks with no thread of ours running.
                    self.pid = None
                    return
                self.tick = min([TICK, *(link.lease / 4 for link in links)])
            if self.wake.wait(self.tick):
                self.wake.clear()
                continue
            for link in links:
                try:
                    link.renew()
                except (redis.ConnectionError, redis.TimeoutError):
                    # Unreachable for now: try again next tick. If the
                    # lease runs out meanwhile, the claim goes to another
                    # process, as it must for a cut-off one.
                    continue


renewer = Renewer()
os.register_at_fork(after_in_child=renewer.forked)


class LockOps(Scripts):
    """``lock()`` / ``unlock()``: a Redis key held under this process's token for ``lease`` seconds, renewed.

    ``_guard`` keeps this process's count of its locks right for its
    threads; it is never held across a call to the server (the async
    link's coroutines share one thread).
    """

    def _lock(self, timeout: float | None = None) -> Plan[bool]:
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        slot = (self.url, self.name)
        held = held_locks()
        token = process_token()
        while True:
            if held.get(slot):
                holder = yield plan.call("get", self._lock_key)
                with _guard:
                    if held.get(slot):  # not unlocked by another thread meanwhile
                        if slot in lost_locks() or holder != token:
                            raise self._lost()
                        held[slot] += 1
                        return True
                continue
            if (yield plan.call("set", self._lock_key, token, nx=True, px=self._lease_ms)):
                with _guard:
                    held[slot] = held.get(slot, 0) + 1
                self._watch()
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            wait = POLL if deadline is None else min(POLL, max(0.0, deadline - time.monotonic()))
            yield plan.Sleep(wait)

    def _unlock(self) -> Plan[None]:
        slot = (self.url, self.name)
        held = held_locks()
        with _guard:
            depth = held.get(slot, 0)
            if depth == 0:
                raise RuntimeError(f"{self._what} at {self.where}: unlock() by a process that does not hold the lock")
            if depth > 1:
                held[slot] = depth - 1
                return
            del held[slot]
        freed = yield from self._eval("LOCK_FREE", 1, self._lock_key, process_token())
        if slot in lost_locks() or not freed:
            lost_locks().discard(slot)
            raise self._lost()

    def _lost(self) -> RuntimeError:
        return RuntimeError(
            f"{self._what} at {self.where}: this process's lock was lost while held (its lease "
            "ran out, or Redis evicted or another client deleted its key), so another process "
            "may have held it meanwhile; the locked block was not protected. Give lock() a "
            "longer lease, and run Redis with maxmemory-policy noeviction"
        )

    def _free_lock(self) -> Plan[None]:
        """This link closes: free this process's lock of the name, if it holds it."""
        with _guard:
            held = held_locks().pop((self.url, self.name), None)
        if held:
            yield from self._eval("LOCK_FREE", 1, self._lock_key, process_token())

    def _renew_lock(self) -> Plan[None]:
        """Extend this process's lock of the name, if it holds it; warn once when it was lost."""
        slot = (self.url, self.name)
        if (
            held_locks().get(slot)
            and slot not in lost_locks()
            and not (yield from self._eval("LOCK_RENEW", 1, self._lock_key, process_token(), self._lease_ms))
        ):
            lost_locks().add(slot)
            warnings.warn(
                f"{self._what} at {self.where}: this process's lock was lost (its lease ran "
                "out, or Redis evicted or another client deleted its key): another process "
                "may take it now; unlock() will raise",
                RuntimeWarning,
                stacklevel=1,
            )


#: Threads of one process take the process's lock one at a time.
_guard = threading.Lock()


def _new_guard() -> None:
    global _guard
    _guard = threading.Lock()  # a fork may have copied it held


os.register_at_fork(after_in_child=_new_guard)
