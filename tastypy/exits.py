"""Sync on the way out: at interpreter exit, on SIGTERM and on SIGINT.

Handlers chain to whatever the program had installed, and the process still
ends the way it would have: a default SIGTERM still kills it by SIGTERM (so
the exit status is unchanged), a default SIGINT still raises
``KeyboardInterrupt``. A signal that lands while a sync is writing waits for
that sync to finish, so no commit is ever interleaved with another.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
from typing import Any, Callable, Iterator

_log = logging.getLogger("tastypy")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_callbacks: list[Callable[[], None]] = []
_previous: dict[int, Any] = {}
_state: dict[str, Any] = {"atexit": False, "signals_pid": None, "depth": 0, "pending": None}


def on_exit(callback: Callable[[], None]) -> None:
    """Call ``callback`` at exit and on SIGTERM / SIGINT (each callback once)."""
    if not _state["atexit"]:
        _state["atexit"] = True
        atexit.register(run_all)
    if _state["signals_pid"] != os.getpid():
        _install_signals()
    if callback not in _callbacks:
        _callbacks.append(callback)


def run_all() -> None:
    """Run every callback; a failing one is logged and does not stop the rest."""
    for callback in list(_callbacks):
        try:
            callback()
        except Exception:
            _log.exception("tastypy: could not sync at exit")


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A section that a signal handler must not interrupt with a sync."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        pending = _state["pending"]
        if pending is not None and _state["depth"] == 0:
            _state["pending"] = None
            _on_signal(pending, None)


def _install_signals() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal() works only there; atexit still covers exit
    _state["signals_pid"] = os.getpid()
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
    _state["depth"] = 0
    _state["pending"] = None
    if _state["signals_pid"] is None:
        return
    _state["signals_pid"] = None
    for signum, previous in _previous.items():
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, previous)


os.register_at_fork(after_in_child=_restore_in_child)


def _on_signal(signum: int, frame: Any) -> None:
    if _state["depth"]:
        _state["pending"] = signum
        return
    run_all()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
