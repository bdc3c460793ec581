"""The writer lock: an ``flock`` on ``tastypy.lock``, which holds the holder's pid."""

from __future__ import annotations

import fcntl
import os
import time
import weakref
from pathlib import Path

from tastypy.errors import LockedError
from tastypy.store.durable import open_file

LOCK = "tastypy.lock"

# Locks held by this process: a forked child must not keep them (see _drop_in_child).
_held: weakref.WeakSet[WriterLock] = weakref.WeakSet()


class WriterLock:
    """Exclusive, non-blocking; released by ``release()``, by GC, or when the process dies."""

    def __init__(self, folder: Path) -> None:
        fd = open_file(folder / LOCK, os.O_RDWR | os.O_CREAT)
        try:
            _lock(fd, folder)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        self.pid = os.getpid()
        self._fd = fd
        self.release = weakref.finalize(self, os.close, fd)
        # Not at interpreter exit: the exit hooks that still sync come later or
        # earlier depending on import order, and the OS drops the lock anyway.
        self.release.atexit = False
        _held.add(self)

    def owned(self) -> bool:
        """Whether this process holds the lock (False in a forked child, or once released)."""
        return self.release.alive and self.pid == os.getpid()


def _lock(fd: int, folder: Path) -> None:
    # A few quick retries: writer_pid() takes a shared lock for an instant.
    for _ in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.01)
    pid = _read_pid(fd)
    raise LockedError(
        f"{folder} is open for writing by process {pid or '(unknown pid)'}:"
        " close it there first, or open it read-only with mode='r'"
    )


def writer_pid(folder: Path) -> int | None:
    """The pid of the process holding the writer lock of ``folder`` now, else None."""
    try:
        fd = open_file(Path(folder) / LOCK)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _drop_in_child() -> None:
    # A forked child shares the parent's lock; closing its copy keeps the lock the
    # parent's alone, so it is free again once the parent closes the store.
    # A lock already released closed its fd: that number may be another file's now.
    for lock in list(_held):
        if lock.release.detach() is not None:
            os.close(lock._fd)


os.register_at_fork(after_in_child=_drop_in_child)
