"""What this process holds on Redis servers, and the thread that renews it.

A claim on a task or a lock lasts ``lease`` seconds of the server's clock.
While the process lives, one daemon thread extends them every third of the
shortest lease; when the process dies (or its machine, or its network),
they expire and go to the next process that asks.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from tastypy.redis.link import RedisLink

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
        self.links: weakref.WeakSet[RedisLink] = weakref.WeakSet()
        self.guard = threading.Lock()
        self.wake = threading.Event()
        self.tick = TICK

    def forked(self) -> None:
        """In a forked child: the parent's thread is not here, its lock may be held."""
        self.guard = threading.Lock()
        self.wake = threading.Event()
        self.tick = TICK
        self.pid = None

    def watch(self, link: RedisLink) -> None:
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
