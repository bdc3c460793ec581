"""The client: a light, picklable handle on a server; each call is one round trip.

A client holds only the server's address, its authkey and the folder's
path, so it pickles into any process (``Process`` or ``Pool`` arguments, a
``Queue``, a ``Pipe``; fork, spawn or forkserver). Each process, and each
thread in it, opens its own connection on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pathlib
import threading
import weakref
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, ValuesView
from multiprocessing.connection import Client
from multiprocessing.managers import convert_to_error, dispatch
from typing import Any, Self

from tastypy import exits
from tastypy.observe import WRITABLE, Op, Recorder, unwrap
from tastypy.pod import OldIterators
from tastypy.shared.server import HOST, Server

#: Keys (or items) fetched by one call of an iteration.
CHUNK = 1000

_MISSING = object()

# Per thread: the process id, this process's client id, its connections and
# whether a call is under way (a call made meanwhile, by a signal handler or
# a finalizer, must not use the same connection).
_local = threading.local()
_ids = itertools.count()


def _state() -> Any:
    local = _local
    if getattr(local, "pid", None) != os.getpid():
        local.pid = os.getpid()
        local.conns = {}
        local.busy = False
        local.cid = _client_id()
    return local


_process = {"pid": None, "cid": None}


def _client_id() -> tuple:
    # The pid alone could be reused by a later process; add a random part.
    if _process["pid"] != os.getpid():
        _process["pid"] = os.getpid()
        _process["cid"] = (os.getpid(), os.urandom(6).hex())
    return _process["cid"]


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


class SharedPersistentOrderedDict(OldIterators, MutableMapping):
    """A POD held by a server process and shared by any number of processes.

    Every method is one atomic call to the server. ``shared.set[...]``
    records a mutation that the server applies atomically; ``lock()`` /
    ``locked()`` give one process exclusive access. ``close()`` (or the exit
    of the creating process) makes the server sync and stop.
    """

    _kind = "pod"

    def __init__(
        self,
        path: str | os.PathLike,
        init: Mapping | Iterable | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        address: Any = None,
        authkey: bytes | None = None,
    ) -> None:
        options = {"init": init, "gzipped": gzipped, "file_size": file_size, "sync_at": sync_at}
        self._create(path, options, address, authkey)

    def _create(self, path: Any, options: dict, address: Any, authkey: bytes | None) -> None:
        path = pathlib.Path(os.path.expanduser(os.fspath(path))).absolute()
        authkey = os.urandom(32) if authkey is None else bytes(authkey)
        server = Server(self._kind, path, options, address, authkey)
        self._bind(server.address, authkey, path)
        _started[id(server)] = (server, server.address, authkey)
        if len(_started) == 1 and not _hooked:
            exits.on_exit(_sync_started)
            atexit.register(_stop_started)
            _hooked.append(True)
        self._server = server

    def _bind(self, address: Any, authkey: bytes, path: pathlib.Path) -> None:
        self._address = address
        self._authkey = authkey
        self._path = path
        self._server = None

    def __reduce__(self) -> Any:
        return _rebuild, (type(self), self._address, self._authkey, self._path)

    # -- calling the server --------------------------------------------------

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``name`` on the server and return its result or raise its error."""
        local = _state()
        request = (HOST, "call", (local.cid, name, args, kwargs), {})
        server = (self._address, self._authkey)
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
                f"{type(self).__name__} at {self._path} is closed (its server stopped: {exc}); "
                "create it again to use it"
            ) from None
        if kind == "#RETURN":
            return result
        raise convert_to_error(kind, result)

    def _wrap(self, key: Any, value: Any) -> Any:
        kind = WRITABLE.get(type(value))
        if kind is None:
            return value
        return kind(value, (key,), self._report, value)

    def _report(self, op: Op, root: Any) -> None:
        # A local copy was mutated: have the server do the same to its value.
        self._call("apply", op)

    @property
    def set(self) -> Recorder:
        """Record a mutation for the server to apply atomically.

        ``shared.set['a']['n'] += 1``, ``shared.set['a']['l'].append(x)``,
        ``shared.set['k'] = v``: read, modify and write happen on the server
        in one call, so no update from another process is lost.
        """
        return Recorder(self._emit)

    def _emit(self, op: Op) -> Any:
        return self._call("apply", op)

    # -- the mapping -----------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        """A local copy of the value; mutating it also changes the server's."""
        return self._wrap(key, self._call("__getitem__", key))

    def get(self, key: Any, default: Any = None) -> Any:
        found, value = self._call("get", key)
        return self._wrap(key, value) if found else default

    def __setitem__(self, key: Any, value: Any) -> None:
        self._call("__setitem__", key, unwrap(value))

    def __delitem__(self, key: Any) -> None:
        self._call("__delitem__", key)

    def __contains__(self, key: object) -> bool:
        return self._call("__contains__", key)

    def __len__(self) -> int:
        return self._call("__len__")

    def __iter__(self) -> Iterator:
        """Keys in insertion order, fetched ``CHUNK`` at a time.

        Keys added meanwhile (by any process) are reached; a key deleted
        before the current position shifts the rest by one, like a list.
        """
        return self._chunks("keys")

    def _chunks(self, what: str) -> Iterator:
        start = 0
        while True:
            chunk = self._call(what, start, CHUNK)
            if what == "items":
                chunk = [(key, self._wrap(key, value)) for key, value in chunk]
            yield from chunk
            if len(chunk) < CHUNK:
                return
            start += len(chunk)

    def values(self) -> ValuesView:
        return _Values(self)

    def items(self) -> ItemsView:
        return _Items(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._call("equals", {key: unwrap(value) for key, value in other.items()})
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._path)!r})"

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its (plain) value, or ``default``."""
        if default is _MISSING:
            return self._call("pop", key)
        return self._call("pop", key, default)

    def popitem(self) -> tuple:
        """Remove and return the last ``(key, plain value)`` pair, as ``dict`` does."""
        return self._call("popitem")

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """``shared[key]`` if present, else store ``default`` and return it (as read)."""
        return self._wrap(key, self._call("setdefault", key, unwrap(default)))

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Like ``dict.update``, in one call: every value is checked before any is stored."""
        items = other.items() if isinstance(other, Mapping) else other
        pairs = [(key, unwrap(value)) for key, value in items]
        self._call("update", pairs, **kwargs)

    def clear(self) -> None:
        """Delete every key."""
        self._call("clear")

    # -- the POD's own methods -------------------------------------------------

    def sync(self) -> None:
        """Make the server write every dirty key; returns once it is on disk."""
        self._call("sync")

    def sync_key(self, key: Any) -> None:
        """Make the server write the change of one key now."""
        self._call("sync_key", key)

    def mark_dirty(self, key: Any) -> None:
        """Mark ``key`` as changed."""
        self._call("mark_dirty", key)

    def dirty(self) -> set:
        """The keys changed since the last sync."""
        return self._call("dirty")

    def hold(self) -> None:
        """Suspend the server's automatic syncs (``sync()``, ``close()`` and exit still sync)."""
        self._call("hold")

    def unhold(self) -> None:
        """Resume automatic syncs."""
        self._call("unhold")

    def revert(self) -> None:
        """Drop every unsynced change and reload the last sync from disk."""
        self._call("revert")

    @property
    def path(self) -> pathlib.Path:
        """The folder."""
        return self._path

    # -- locking -----------------------------------------------------------------

    def lock(self, timeout: float | None = None) -> bool:
        """Take exclusive access for this process; the others' calls wait.

        Reentrant within the process. Returns False if ``timeout`` seconds
        passed first. Released by ``unlock()``, or when this process dies.
        """
        return self._call("lock", timeout)

    def unlock(self) -> None:
        """Release the lock taken by ``lock()`` (RuntimeError if not held here)."""
        self._call("unlock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[SharedPersistentOrderedDict]:
        """``with shared.locked():`` -- exclusive access for the block."""
        self.lock()
        try:
            yield self
        finally:
            self.unlock()

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Make the server sync and stop (for every process using it)."""
        with contextlib.suppress(ValueError):
            self._call("close")
        conn = _state().conns.pop((self._address, self._authkey), None)
        if conn is not None:
            conn.close()
        server = self._server
        if server is not None:
            _started.pop(id(server), None)
            server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Values(ValuesView):
    def __iter__(self) -> Iterator:
        for _, value in self._mapping._chunks("items"):
            yield value


class _Items(ItemsView):
    def __iter__(self) -> Iterator:
        return self._mapping._chunks("items")


def _rebuild(cls: type, address: Any, authkey: bytes, path: pathlib.Path) -> Any:
    client = cls.__new__(cls)
    client._bind(address, authkey, path)
    return client


# -- the servers this process started -------------------------------------------

_started: dict[int, tuple] = {}
_hooked: list = []


def _sync_started() -> None:
    # On SIGTERM / SIGINT too: a sync only (the program may go on after a
    # caught KeyboardInterrupt); a server whose creator died stops by itself.
    # A fresh connection each: the signal may have cut a call short.
    for server, address, authkey in list(_started.values()):
        if server.creator == os.getpid() and server.process.is_alive():
            _call_once(address, authkey, "sync")


def _stop_started() -> None:
    for key, (server, address, authkey) in list(_started.items()):
        if server.creator != os.getpid():
            continue  # a forked child: the server is its parent's
        if server.process.is_alive():
            _call_once(address, authkey, "close")
        server.stop()
        _started.pop(key, None)


def _call_once(address: Any, authkey: bytes, name: str) -> None:
    with (
        contextlib.suppress(OSError, EOFError, ValueError),
        contextlib.closing(_connect(address, authkey)) as conn,
    ):
        dispatch(conn, HOST, "call", (_client_id(), name, (), {}))


SharedPOD = SharedPersistentOrderedDict
