"""Sync on the way out: at interpreter exit, on SIGTERM, SIGINT and SIGHUP.

Handlers chain to whatever the program had installed, and the process still
ends the way it would have: a default SIGTERM or SIGHUP still kills it by
that signal (so the exit status is unchanged), a default SIGINT still raises
``KeyboardInterrupt``.

Python runs signal handlers in the main thread, and only the main thread may
install them. So the handlers are installed when this module is first
imported from the main thread (normally ``import tastypy``; not in a
multiprocessing child), and a POD opened later in a worker thread is covered
too; each POD opened in the main thread installs them again, chaining to a
handler the program set meanwhile. A signal that lands while a sync is
writing waits for that sync to finish, so no commit is ever interleaved with
another: in another thread, the callback waits for the POD's own lock (held
by every sync); in the main thread itself, the signal is replayed there as
the sync ends.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

_log = logging.getLogger("tastypy")

_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
_callbacks: list[Callable[[], None]] = []
#: The handler each signal had before ours, to chain to.
_previous: dict[int, Any] = {}


class _Local(threading.local):
    depth = 0  # nested critical sections of this thread


_local = _Local()


class _Process:
    """What this process has set up (a forked child starts over)."""

    atexit_registered = False
    handlers_pid: int | None = None
    #: A signal that landed in the main thread's own critical section.
    pending: int | None = None


def on_exit(callback: Callable[[], None]) -> None:
    """Call ``callback`` at exit and on SIGTERM / SIGINT / SIGHUP (each callback once)."""
    if not _Process.atexit_registered:
        _Process.atexit_registered = True
        atexit.register(run_all)
    # Again on every call from the main thread: a handler the program set
    # after importing tastypy is chained to, not replaced or lost.
    _install_handlers()
    if callback not in _callbacks:
        _callbacks.append(callback)


def run_all() -> None:
    """Run every callback; a failing one is logged and does not stop the rest."""
    for callback in _callbacks.copy():  # a callback may register another
        try:
            callback()
        except Exception:  # noqa: BLE001  (logged; the other callbacks must still run)
            _log.exception("tastypy: could not sync at exit")


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A section that a signal handler must not interrupt with a sync."""
    _local.depth += 1
    try:
        yield
    finally:
        _local.depth -= 1
    pending = _Process.pending
    if pending is not None and _local.depth == 0 and _in_main_thread():
        _Process.pending = None
        _on_signal(pending, None)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install_handlers() -> None:
    if not _in_main_thread():
        return  # signal.signal() works only there; atexit still covers exit
    _Process.handlers_pid = os.getpid()
    for signum in _SIGNALS:
        previous = signal.getsignal(signum)
        if previous is _on_signal:
            continue
        if previous is signal.SIG_IGN or previous is None:
            continue  # ignored on purpose, or set outside Python: leave it
        _previous[signum] = previous
        signal.signal(signum, _on_signal)


def _restore_in_child() -> None:
    """A forked child gets the handlers the program had, not ours.

    The child has nothing of its own to sync yet (it reinstalls ours when it
    opens a POD), and a Python-level SIGTERM handler in a multiprocessing
    Pool worker can miss the signal while the worker waits for a task, which
    makes ``Pool.terminate()`` hang.
    """
    _local.depth = 0
    _Process.pending = None
    if _Process.handlers_pid is None:
        return
    _Process.handlers_pid = None
    for signum, previous in _previous.items():
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, previous)


os.register_at_fork(after_in_child=_restore_in_child)


def _on_signal(signum: int, frame: Any) -> None:
    # Python runs this in the main thread, between two of its bytecodes.
    if _local.depth:
        _Process.pending = signum  # replayed when the main thread's sync ends
        return
    run_all()  # each POD's sync waits for a sync of it under way in another thread
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


# Installed at import: only the main thread can, and the POD to protect may
# be opened later by another thread. Not in a multiprocessing child (a Pool
# worker, say): there a Python-level SIGTERM handler can make terminate()
# hang, and the child installs them when it opens a POD itself.
if multiprocessing.parent_process() is None:
    _install_handlers()
