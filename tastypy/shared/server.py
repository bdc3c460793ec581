"""The server process: it owns the POD or Tracker and runs every client's calls.

It is the standard library's ``multiprocessing.managers`` server (its
listener, authkey challenge and one thread per connection), hosting one
object, ``Host``, whose single exposed method ``call`` runs a POD method,
applies an ``Op`` or hands out work, one call at a time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.managers import BaseManager
from typing import Any

from tastypy.observe import apply, unwrap
from tastypy.shared.work import Work

#: The id of the host object in the manager server.
HOST = "tastypy"
#: Seconds between checks of a waiting call and of the creator's life.
RECHECK = 0.2
WATCH = 0.5

#: POD and Tracker methods a client may call by name (all else is refused).
POD_METHODS = frozenset(
    "__getitem__ __setitem__ __delitem__ __contains__ __len__ pop popitem setdefault "  # noqa: SIM905
    "update clear sync sync_key mark_dirty dirty hold unhold revert".split()
)
TRACKER_METHODS = POD_METHODS | frozenset(
    "add add_if_absent add_many add_many_if_absent mark_done mark_not_done done abort "  # noqa: SIM905
    "unabort aborted increment_tries decrement_tries reset_tries tries should_do "
    "should_do_add should_try should_try_add num_done num_tried num_aborted "
    "fraction_done fraction_tried fraction_aborted percent_done percent_not_done "
    "percent_tried percent_not_tried percent_aborted percent_not_aborted".split()
)


class _Manager(BaseManager):
    """The standard manager; its server gets the host object put in by hand."""


class Host:
    """Runs the calls of every client on the hosted POD, one at a time.

    ``cid`` identifies the calling process. The user lock belongs to one
    ``cid``; the calls of the others wait for it. A client is alive while one
    of the server threads serving its connections is: a process that dies,
    even by SIGKILL, closes its sockets, which ends those threads.
    """

    def __init__(self, pod: Any, methods: frozenset, shares_work: bool) -> None:
        self.pod = pod
        self.methods = methods
        self.work = Work(pod, self.alive) if shares_work else None
        self.cond = threading.Condition()
        self.threads: dict[threading.Thread, Any] = {}
        self.known = 16
        self.holder: Any = None
        self.depth = 0
        self.closed = False
        self.stop = threading.Event()

    def call(self, cid: Any, name: str, args: tuple, kwargs: dict) -> Any:
        """Run ``name`` for client ``cid`` once the user lock lets it through."""
        with self.cond:
            thread = threading.current_thread()
            if self.threads.get(thread) != cid:
                self.threads[thread] = cid
                if len(self.threads) > 2 * self.known:
                    self.alive(None)  # forget the threads of closed connections
                    self.known = max(16, len(self.threads))
            if self.holder is not None and self.holder != cid and name not in _OWN_WAIT:
                self._wait_turn(cid, None)
            if self.closed:
                kind = "SharedTracker" if self.work is not None else "SharedPOD"
                raise ValueError(f"{kind} at {self.pod.path} is closed; create it again to use it")
            handler = _HANDLERS.get(name)
            if handler is not None:
                return handler(self, cid, *args, **kwargs)
            if name not in self.methods:
                raise AttributeError(f"{type(self.pod).__name__} has no method {name!r} a client may call")
            result = getattr(self.pod, name)(*args, **kwargs)
            if self.work is not None and name in ("mark_done", "abort"):
                self.work.release_key(args[0])
            return unwrap(result)

    def _wait_turn(self, cid: Any, deadline: float | None) -> bool:
        """Wait (lock held) until ``cid`` may act; False when ``deadline`` passed first."""
        while self.holder is not None and self.holder != cid:
            if not self.alive(self.holder):
                self.holder, self.depth = None, 0
                break
            timeout = RECHECK
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    return False
            self.cond.wait(timeout)
        return True

    def alive(self, cid: Any) -> bool:
        """Whether a connection of client ``cid`` is still open."""
        alive = False
        for thread, owner in list(self.threads.items()):
            if not thread.is_alive():
                del self.threads[thread]
            elif owner == cid:
                alive = True
        return alive

    # -- handlers: calls that are more than a POD method ---------------------

    def _lock(self, cid: Any, timeout: float | None = None) -> bool:
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        if not self._wait_turn(cid, deadline):
            return False
        self.holder = cid
        self.depth += 1
        return True

    def _unlock(self, cid: Any) -> None:
        if self.holder != cid:
            raise RuntimeError(
                f"SharedPOD at {self.pod.path}: unlock() by a process that does not hold the lock"
            )
        self.depth -= 1
        if self.depth == 0:
            self.holder = None
            self.cond.notify_all()

    def _get(self, cid: Any, key: Any) -> tuple:
        if key in self.pod:
            return True, unwrap(self.pod[key])
        return False, None

    def _apply(self, cid: Any, op: Any) -> Any:
        return unwrap(apply(op, self.pod))

    def _keys(self, cid: Any, start: int, count: int) -> list:
        return list(itertools.islice(self.pod, start, start + count))

    def _items(self, cid: Any, start: int, count: int) -> list:
        pod = self.pod
        return [(key, unwrap(pod[key])) for key in itertools.islice(pod, start, start + count)]

    def _scan(self, cid: Any, start: int, count: int, test: str, allow_aborted: bool, values: bool) -> tuple:
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

    def _equals(self, cid: Any, other: dict) -> bool:
        return self.pod == other

    def _attr(self, cid: Any, name: str) -> Any:
        if name != "max_tries":
            raise AttributeError(name)
        return getattr(self.pod, name)

    def _next(self, cid: Any, task: Any, start: int, allow_aborted: bool, values: bool) -> Any:
        return self.work.next(cid, task, start, allow_aborted, values)

    def _drop(self, cid: Any, task: Any) -> None:
        self.work.drop((cid, task))

    def _close(self, cid: Any) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Sync, release the folder and stop serving (lock held)."""
        if not self.closed:
            self.closed = True
            self.stop.set()
            self.pod.close()


_HANDLERS = {
    "lock": Host._lock,
    "unlock": Host._unlock,
    "get": Host._get,
    "apply": Host._apply,
    "keys": Host._keys,
    "items": Host._items,
    "scan": Host._scan,
    "equals": Host._equals,
    "attr": Host._attr,
    "next": Host._next,
    "drop": Host._drop,
    "close": Host._close,
}


# -- the server process ------------------------------------------------------


#: Calls that do not wait for the user lock of another process first.
_OWN_WAIT = frozenset(("lock", "unlock"))


def serve(
    kind: str, path: Any, options: dict, address: Any, authkey: bytes, creator: int, writer: Any
) -> None:
    """Body of the server process: open the folder, report, serve until told or orphaned."""
    # Terminal signals reach the whole process group: the creator handles
    # them and closes us. SIGTERM / SIGHUP aimed at the server: sync and stop.
    # A flag, not an Event: a handler must not take locks the main thread may hold.
    # Set after opening the POD, which may install tastypy.exits' handlers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pod, methods = _open(kind, path, options)
        server = _Manager(address=address, authkey=authkey).get_server()
    except BaseException as exc:  # noqa: BLE001  (whatever it is, the creator raises it)
        _report(writer, ("error", exc))
        return
    stopping: list = []
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None:
            signal.signal(signum, lambda *_: stopping.append(True))
    host = Host(pod, methods, kind == "tracker")
    server.id_to_obj[HOST] = (host, ("call",), None)
    server.stop_event = host.stop
    threading.Thread(target=server.accepter, name="accepter", daemon=True).start()
    _report(writer, ("ready", server.address))
    while not host.stop.wait(WATCH):
        if stopping or os.getppid() != creator:
            break
    with host.cond:
        host.shutdown()
    server.listener.close()
    if isinstance(server.address, str):
        shutil.rmtree(os.path.dirname(server.address), ignore_errors=True)


def _open(kind: str, path: Any, options: dict) -> tuple:
    if kind == "tracker":
        from tastypy.tracker import ProgressTracker

        return ProgressTracker(path, **options), TRACKER_METHODS
    from tastypy.pod import POD

    return POD(path, **options), POD_METHODS


def _report(writer: Any, message: tuple) -> None:
    try:
        writer.send(message)
    except Exception as exc:  # noqa: BLE001  (an exception that does not pickle)
        writer.send(("error", RuntimeError(f"{type(message[1]).__name__}: {message[1]} ({exc})")))
    writer.close()


# -- the creator's side --------------------------------------------------------


class Server:
    """The creator's handle on a running server process."""

    def __init__(self, kind: str, path: Any, options: dict, address: Any, authkey: bytes) -> None:
        self.tempdir = None
        self.creator = os.getpid()
        if address is None:
            address, self.tempdir = _private_address()
        method = _start_method()
        init = options.get("init")
        if method != "fork" and init is not None and not isinstance(init, (Mapping, list, tuple)):
            options = {**options, "init": list(init)}  # a generator does not pickle
        ctx = get_context(method)
        reader, writer = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=serve,
            args=(kind, path, options, address, authkey, os.getpid(), writer),
            name=f"tastypy server of {os.fspath(path)}",
            daemon=True,
        )
        self.process.start()
        writer.close()
        with contextlib.closing(reader):
            message = self._wait(reader)
        if message[0] == "error":
            self.stop()
            raise message[1]
        self.address = message[1]
        self.pid = self.process.pid

    def _wait(self, reader: Any) -> tuple:
        while not reader.poll(RECHECK):
            if not self.process.is_alive():
                break
        try:
            return reader.recv()
        except EOFError:
            self.stop()
            return (
                "error",
                RuntimeError(f"the tastypy server process died at start (exit code {self.process.exitcode})"),
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Wait for the process to end (it was told to), killing it after ``timeout``."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        if self.tempdir is not None:
            shutil.rmtree(self.tempdir, ignore_errors=True)


def _start_method() -> str:
    # fork: no import of __main__, a fast start, and nothing to pickle. macOS
    # and Windows lack a safe fork: spawn there.
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        if "fork" in get_all_start_methods():
            return "fork"
    return "spawn"


def _private_address() -> tuple:
    if sys.platform == "win32":
        return ("127.0.0.1", 0), None
    tempdir = tempfile.mkdtemp(prefix="tastypy-")  # mode 0700: ours alone
    return os.path.join(tempdir, "server.sock"), tempdir
