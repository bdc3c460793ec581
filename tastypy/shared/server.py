"""The server process: it owns the POD or Tracker and runs every client's calls.

Built on ``multiprocessing.connection`` (``Listener`` and its authkey
challenge), then a ``Wire`` over each connection's socket (``link.py``). One
thread accepts connections; the main thread runs the calls, one at a time,
from a selector over every open connection: a request is ``(name, args,
kwargs)`` pickled in one message, the reply ``(True, result)`` or ``(False,
exception)``. Each connection first sends its client's id (one
per process). A client is alive while one of its connections is open: a
process that dies, even by SIGKILL, closes its sockets, which frees its lock
and its keys at once.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import selectors
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from multiprocessing import AuthenticationError, get_all_start_methods, get_context
from multiprocessing.connection import Listener, Pipe
from typing import Any

from tastypy.shared.host import Host
from tastypy.shared.link import DONE, Wire

#: Seconds between checks of the creator's life and of stop signals.
WATCH = 0.5
#: Seconds the server's start may take before the creator gives up.
START = 60.0


class _Peer:
    """One open connection: its client's id and its waiting request, if any."""

    __slots__ = ("cid", "conn", "waiting")

    def __init__(self, conn: Wire) -> None:
        self.conn = conn
        self.cid: Any = None
        self.waiting: Any = None  # (name, args, kwargs, deadline) held back by the user lock


class Loop:
    """Runs the requests of every connection on one host, one at a time."""

    def __init__(self, host: Host, listener: Any) -> None:
        self.host = host
        self.selector = selectors.DefaultSelector()
        self.inbox: collections.deque[Wire] = collections.deque()
        self.wake_reader, self.wake_writer = Pipe(duplex=False)
        self.selector.register(self.wake_reader, selectors.EVENT_READ, None)
        self.waiting: list[_Peer] = []  # in the order they came
        threading.Thread(target=self._accept, args=(listener,), name="accept", daemon=True).start()

    def _accept(self, listener: Any) -> None:
        # Here, not in the loop: the authkey challenge takes round trips.
        while True:
            try:
                conn = listener.accept()
            except (AuthenticationError, EOFError, ConnectionError):
                continue  # a wrong key or a client gone: that client gets its error
            except OSError:
                return  # the listener is closed
            try:
                wire = Wire(conn)
            except OSError:
                continue  # out of file descriptors: that client sees its connection close
            self.inbox.append(wire)
            self.wake_writer.send_bytes(b"")

    def run(self, stop: Any) -> None:
        """Serve until the host is closed or ``stop()`` says so (checked every WATCH s)."""
        select = self.selector.select
        monotonic = time.monotonic
        host = self.host
        check = monotonic() + WATCH
        while not host.closed:
            now = monotonic()  # once a turn: a turn serves every ready request
            if now >= check:
                if stop():
                    return
                check = now + WATCH
            timeout = check - now
            if self.waiting:
                deadlines = [peer.waiting[3] for peer in self.waiting if peer.waiting[3] is not None]
                if deadlines:
                    timeout = min(timeout, min(deadlines) - now)
            for key, _ in select(max(0.0, timeout)):
                peer = key.data
                if peer is None:
                    self._admit()
                else:
                    self._serve(peer)
                if host.closed:
                    return
            if self.waiting:
                self._expire()

    def _admit(self) -> None:
        self.wake_reader.recv_bytes()
        while self.inbox:
            conn = self.inbox.popleft()
            self.selector.register(conn, selectors.EVENT_READ, _Peer(conn))

    def _serve(self, peer: _Peer) -> None:
        try:
            data = peer.conn.recv()
        except (EOFError, OSError):
            self._drop(peer)
            return
        if peer.cid is None:
            peer.cid = pickle.loads(data)
            self.host.join(peer.cid)
            if peer.conn.rest:
                self._serve(peer)  # its first request came in the same read
            return
        if peer.waiting is not None or peer.conn.rest:
            self._drop(peer)  # a request before the last one was answered: not our client
            return
        name, args, kwargs = pickle.loads(data)
        host = self.host
        if host.holder is not None and host.blocks(peer.cid, name):
            deadline = host.deadline(name, args, kwargs)
            if deadline is not None and deadline <= time.monotonic():
                self._reply(peer, True, False)  # lock(timeout=0): no wait
                return
            peer.waiting = (name, args, kwargs, deadline)
            self.waiting.append(peer)
            return
        self._run(peer, name, args, kwargs)

    def _run(self, peer: _Peer, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        host = self.host
        holder = host.holder
        handler = host.table.get(name)
        try:
            if handler is None:
                raise host.unknown(name)
            result = handler(peer.cid, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (the caller gets it)
            self._reply(peer, False, exc)
        else:
            if result is None:  # most writes: the reply is known
                try:
                    peer.conn.send(DONE)
                except OSError:
                    self._drop(peer)
            else:
                self._reply(peer, True, result)
        if holder is not None and host.holder is None:
            self._resume()

    def _reply(self, peer: _Peer, ok: bool, value: Any) -> None:
        try:
            data = pickle.dumps((ok, value), 5)
            if not ok:
                pickle.loads(data)  # an exception may pickle and not unpickle
        except Exception as exc:  # noqa: BLE001
            plain = RuntimeError(f"{type(value).__name__}: {value}" if not ok else f"result does not pickle: {exc}")
            data = pickle.dumps((False, plain), 5)
        try:
            peer.conn.send(data)
        except OSError:
            self._drop(peer)

    def _resume(self) -> None:
        """The user lock is free: run the held-back requests that may go, in order."""
        for peer in list(self.waiting):
            if peer.waiting is None or self.host.blocks(peer.cid, peer.waiting[0]):
                continue
            name, args, kwargs, _ = peer.waiting
            peer.waiting = None
            self.waiting.remove(peer)
            self._run(peer, name, args, kwargs)
            if self.host.closed:
                return

    def _expire(self) -> None:
        now = time.monotonic()
        for peer in list(self.waiting):
            deadline = peer.waiting[3]
            if deadline is not None and deadline <= now:
                peer.waiting = None
                self.waiting.remove(peer)
                self._reply(peer, True, False)  # lock(timeout) ran out

    def _drop(self, peer: _Peer) -> None:
        """The connection closed (or broke the protocol): forget it."""
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(peer.conn)
        peer.conn.close()
        if peer.waiting is not None:
            peer.waiting = None
            self.waiting.remove(peer)
        if peer.cid is not None and self.host.leave(peer.cid):
            self._resume()  # it held the user lock and it was its last connection


def serve(
    kind: str,
    path: Any,
    options: dict[str, Any],
    address: Any,
    authkey: bytes,
    creator: int,
    writer: Any,
    tempdir: str | None,
) -> None:
    """Body of the server process: open the folder, report, serve until told or orphaned."""
    # Terminal signals reach the whole process group: the creator handles
    # them and closes us. SIGTERM / SIGHUP aimed at the server: sync and stop.
    # A flag: the loop checks it every WATCH seconds.
    # Set after opening the POD, which may install tastypy.exits' handlers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        host = Host(_open(kind, path, options), kind)
        listener = Listener(address, authkey=authkey)
    except BaseException as exc:  # noqa: BLE001  (whatever it is, the creator raises it)
        _report(writer, ("error", exc))
        return
    stopping: list[bool] = []
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None:
            signal.signal(signum, lambda *_: stopping.append(True))
    loop = Loop(host, listener)
    _report(writer, ("ready", listener.address))
    loop.run(lambda: bool(stopping) or os.getppid() != creator)
    host.shutdown()
    listener.close()
    if tempdir is not None:  # the creator may be dead: remove its private folder here too
        shutil.rmtree(tempdir, ignore_errors=True)


def _open(kind: str, path: Any, options: dict[str, Any]) -> Any:
    if kind == "tracker":
        from tastypy.tracker import ProgressTracker

        return ProgressTracker(path, **options)
    from tastypy.pod import POD

    return POD(path, **options)


def _report(writer: Any, message: tuple[str, Any]) -> None:
    try:
        writer.send(message)
    except Exception as exc:  # noqa: BLE001  (an exception that does not pickle)
        writer.send(("error", RuntimeError(f"{type(message[1]).__name__}: {message[1]} ({exc})")))
    writer.close()


# -- the creator's side --------------------------------------------------------


class Server:
    """The creator's handle on a running server process."""

    def __init__(self, kind: str, path: Any, options: dict[str, Any], address: Any, authkey: bytes) -> None:
        self.tempdir = None
        self.creator = os.getpid()
        if address is None:
            address, self.tempdir = _private_address()
        method = _start_method()
        init = options.get("init")
        if method != "fork" and init is not None and not isinstance(init, (Mapping, list, tuple)):
            options = {**options, "init": list(init)}  # a generator does not pickle
        ctx: Any = get_context(method)  # a concrete context: typeshed gives BaseContext no Process
        reader, writer = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=serve,
            args=(kind, path, options, address, authkey, os.getpid(), writer, self.tempdir),
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

    def _wait(self, reader: Any) -> tuple[str, Any]:
        deadline = time.monotonic() + START
        while not reader.poll(WATCH):
            if not self.process.is_alive() or time.monotonic() > deadline:
                break
        try:
            if reader.poll(0):
                message: tuple[str, Any] = reader.recv()
                return message
        except EOFError:
            pass
        self.stop(timeout=1.0)
        return (
            "error",
            RuntimeError(f"the tastypy server process did not start (exit code {self.process.exitcode})"),
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


def _private_address() -> tuple[str | tuple[str, int], str | None]:
    if sys.platform == "win32":
        return ("127.0.0.1", 0), None
    tempdir = tempfile.mkdtemp(prefix="tastypy-")  # mode 0700: ours alone
    return os.path.join(tempdir, "server.sock"), tempdir
