"""The link of a SharedPOD: this process's connections to its server.

A link holds only the server's address, its authkey and the folder's path,
so it pickles into any process (fork, spawn or forkserver). Each process,
and each thread in it, opens its own connection on first use and sends its
process's id first; then each call is one message each way.

``multiprocessing.connection`` makes the connection and answers the authkey
challenge; then both sides move to a ``Wire`` over the same socket: a
message is its length (8 bytes) and its bytes, sent in one system call and
most often read in one (a ``Connection`` reads the length and the bytes
apart, in Python: a third of a round trip's system calls).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pickle
import socket
import struct
import threading
import weakref
from multiprocessing.connection import Client, Connection
from typing import Any

#: Seconds the creator's way-out calls wait for their reply.
EXIT_WAIT = 60.0

_HEADER = struct.Struct("!Q")
_HEAD = _HEADER.size
#: Bytes asked of the socket by a read: most messages fit in one.
_CHUNK = 65536


class Wire:
    """One end of a connection after its handshake: messages of bytes, each way."""

    __slots__ = ("__weakref__", "rest", "sock")

    def __init__(self, conn: Connection) -> None:
        # A socket object of its own over a duplicate of the connection's
        # (dup() works on every platform), so the Connection closes now.
        borrowed = socket.socket(fileno=conn.fileno())
        try:
            self.sock = borrowed.dup()
        finally:
            borrowed.detach()
            conn.close()
        self.rest = b""

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes) -> None:
        """Send one message (length and bytes together, below ``_CHUNK``)."""
        if len(data) < _CHUNK:
            self.sock.sendall(_HEADER.pack(len(data)) + data)
        else:
            self.sock.sendall(_HEADER.pack(len(data)))
            self.sock.sendall(data)

    def recv(self) -> Any:
        """The next message (bytes-like); EOFError if the other end closed.

        Bytes read past the message are kept in ``rest`` for the next call:
        a client sends its id and its first request without a reply between.
        """
        sock = self.sock
        if self.rest:
            data, self.rest = self.rest, b""
        else:
            data = sock.recv(_CHUNK)
            size = len(data)
            if size > _HEAD and size - _HEAD == _HEADER.unpack_from(data)[0]:
                return data[_HEAD:]  # the usual case: one whole message in one read
        while len(data) < _HEAD:
            more = sock.recv(_CHUNK) if data else b""
            if not more:
                raise EOFError("connection closed")
            data += more
        end = _HEAD + _HEADER.unpack_from(data)[0]
        if len(data) >= end:
            if len(data) > end:
                self.rest = data[end:]
            return data[_HEAD:end]
        message = bytearray(end - _HEAD)
        have = len(data) - _HEAD
        message[:have] = data[_HEAD:]
        view = memoryview(message)[have:]
        while view:
            got = sock.recv_into(view)
            if not got:
                raise EOFError("connection closed")
            view = view[got:]
        return message

    def close(self) -> None:
        self.sock.close()


class _Local(threading.local):
    # Per thread: its connections, and whether a call is under way (a call
    # made meanwhile, by a signal handler or a finalizer, must not use the
    # same connection).
    def __init__(self) -> None:
        self.conns: dict[tuple[Any, bytes], Wire] = {}
        self.busy = False


_local = _Local()
_client: dict[str, tuple[int, str] | None] = {"cid": None}

# Every connection this process opened. A forked child closes its copies:
# held open there, a socket would keep a dead parent alive in the server's
# eyes (its lock and its keys never freed).
_opened: weakref.WeakSet[Wire] = weakref.WeakSet()


def _after_fork() -> None:
    for conn in list(_opened):
        with contextlib.suppress(OSError):
            conn.close()
    _opened.clear()
    _local.conns = {}
    _local.busy = False
    _client["cid"] = None


os.register_at_fork(after_in_child=_after_fork)


def client_id() -> tuple[int, str]:
    """This process's id for the server (the pid alone could be reused later)."""
    cid = _client["cid"]
    if cid is None:
        cid = _client["cid"] = (os.getpid(), os.urandom(6).hex())
    return cid


def connect(address: Any, authkey: bytes) -> Wire:
    """A new connection to the server at ``address``, introduced."""
    wire = Wire(Client(address, authkey=authkey))
    _opened.add(wire)
    wire.send(pickle.dumps(client_id(), 5))
    return wire


#: The reply of most writes, pickled once (the server sends it, a client knows it).
DONE = pickle.dumps((True, None), 5)


def _answer(data: bytes) -> Any:
    ok, value = pickle.loads(data)
    if ok:
        return value
    raise value


class Link:
    """Calls to one server, one connection per process and thread."""

    def __init__(self, address: Any, authkey: bytes, path: pathlib.Path, what: str) -> None:
        self.address = address
        self.authkey = authkey
        self.path = path
        self.what = what
        self.where = str(path)
        self._key = (address if isinstance(address, str) else tuple(address), authkey)

    def __reduce__(self) -> Any:
        return type(self), (self.address, self.authkey, self.path, self.what)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``name`` on the server and return its result or raise its error."""
        if name == "apply":
            args = (tuple(args[0]),)  # an Op as a plain tuple pickles twice as fast; apply() takes both
        request = pickle.dumps((name, args, kwargs), 5)
        local = _local
        if local.busy:
            return self._call_aside(request)
        conn = local.conns.get(self._key)
        local.busy = True
        try:
            if conn is None:
                conn = local.conns[self._key] = connect(self.address, self.authkey)
            conn.send(request)
            data = conn.recv()
        except BaseException as exc:
            # Cut short (Ctrl-C, server gone): its reply must not be read
            # as the next call's.
            dropped = local.conns.pop(self._key, None)
            if dropped is not None:
                dropped.close()
            if isinstance(exc, (OSError, EOFError)):
                raise self._closed(exc) from None
            raise
        finally:
            local.busy = False
        return None if data == DONE else _answer(data)

    def _call_aside(self, request: bytes) -> Any:
        try:
            with contextlib.closing(connect(self.address, self.authkey)) as conn:
                conn.send(request)
                data = conn.recv()
        except (OSError, EOFError) as exc:
            raise self._closed(exc) from None
        return _answer(data)

    def _closed(self, exc: BaseException) -> ValueError:
        return ValueError(
            f"{self.what} at {self.where} is closed (its server stopped: {exc!r}); create it again to use it"
        )

    def close(self) -> None:
        """Close this thread's connection to the server."""
        conn = _local.conns.pop(self._key, None)
        if conn is not None:
            conn.close()


def call_once(address: Any, authkey: bytes, name: str) -> None:
    """``name`` on a fresh connection (a signal may have cut another call short), bounded in time."""
    with (
        contextlib.suppress(OSError, EOFError),
        contextlib.closing(connect(address, authkey)) as conn,
    ):
        conn.sock.settimeout(EXIT_WAIT)  # its lapse raises TimeoutError, an OSError
        conn.send(pickle.dumps((name, (), {}), 5))
        conn.recv()
