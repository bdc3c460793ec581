"""The link of a SharedPOD: this process's connections to its server.

A link holds only the server's address, its authkey and the folder's path,
so it pickles into any process (fork, spawn or forkserver). Each process,
and each thread in it, opens its own connection on first use.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import threading
import weakref
from multiprocessing.connection import Client
from multiprocessing.managers import convert_to_error, dispatch
from typing import Any

from tastypy.shared.server import HOST

# Per thread: the process id, its connections and whether a call is under
# way (a call made meanwhile, by a signal handler or a finalizer, must not
# use the same connection).
_local = threading.local()


def _state() -> Any:
    local = _local
    if getattr(local, "pid", None) != os.getpid():
        local.pid = os.getpid()
        local.conns = {}
        local.busy = False
    return local


_client: dict[str, Any] = {"pid": None, "cid": None}


def client_id() -> tuple:
    """This process's id for the server: the pid alone could be reused later."""
    if _client["pid"] != os.getpid():
        _client["pid"] = os.getpid()
        _client["cid"] = (os.getpid(), os.urandom(6).hex())
    return _client["cid"]


def _connect(address: Any, authkey: bytes) -> Any:
    conn = Client(address, authkey=authkey)
    _opened.add(conn)
    thread = threading.current_thread().name
    dispatch(conn, None, "accept_connection", (f"{os.getpid()}|{thread}",))
    return conn


# Every connection this process opened. A forked child closes its copies:
# held open there, a socket would keep a dead parent alive in the server's
# eyes (its lock and its keys never freed).
_opened: weakref.WeakSet = weakref.WeakSet()


def _close_inherited() -> None:
    for conn in list(_opened):
        with contextlib.suppress(OSError):
            conn.close()
    _opened.clear()


os.register_at_fork(after_in_child=_close_inherited)


class _Gone(Exception):
    """The server cannot be reached any more."""


def _roundtrip(conn: Any, request: tuple) -> tuple:
    try:
        conn.send(request)
        return conn.recv()
    except (OSError, EOFError) as exc:
        raise _Gone(exc) from None


class Link:
    """Calls to one server, one connection per process and thread."""

    def __init__(self, address: Any, authkey: bytes, path: pathlib.Path, what: str) -> None:
        self.address = address
        self.authkey = authkey
        self.path = path
        self.what = what
        self.where = str(path)

    def __reduce__(self) -> Any:
        return type(self), (self.address, self.authkey, self.path, self.what)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``name`` on the server and return its result or raise its error."""
        local = _state()
        request = (HOST, "call", (client_id(), name, args, kwargs), {})
        server = (self.address, self.authkey)
        try:
            if local.busy:
                with contextlib.closing(_connect(*server)) as conn:
                    kind, result = _roundtrip(conn, request)
            else:
                conn = local.conns.get(server)
                if conn is None:
                    conn = local.conns[server] = _connect(*server)
                local.busy = True
                try:
                    kind, result = _roundtrip(conn, request)
                except BaseException:
                    # Cut short (Ctrl-C, server gone): its reply must not
                    # be read as the next call's.
                    del local.conns[server]
                    conn.close()
                    raise
                finally:
                    local.busy = False
        except (_Gone, OSError, EOFError) as exc:
            raise ValueError(
                f"{self.what} at {self.where} is closed (its server stopped: {exc}); "
                "create it again to use it"
            ) from None
        if kind == "#RETURN":
            return result
        raise convert_to_error(kind, result)

    def close(self) -> None:
        """Close this thread's connection to the server."""
        conn = _state().conns.pop((self.address, self.authkey), None)
        if conn is not None:
            conn.close()


def call_once(address: Any, authkey: bytes, name: str) -> None:
    """One call on a fresh connection (a signal may have cut another short)."""
    with (
        contextlib.suppress(OSError, EOFError, ValueError),
        contextlib.closing(_connect(address, authkey)) as conn,
    ):
        dispatch(conn, HOST, "call", (client_id(), name, (), {}))
