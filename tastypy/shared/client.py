"""``SharedPOD``: the client face over a server process this process starts.

The face (``face.py``) is the host-independent part; here are only the
server's start, the link to it, and the hooks that make the server sync and
stop when its creator exits.
"""

from __future__ import annotations

import atexit
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

from tastypy import exits
from tastypy.keys import K, V
from tastypy.pod import folder_path
from tastypy.shared.face import ClientPOD
from tastypy.shared.link import Link, call_once
from tastypy.shared.server import Server


class Creator:
    """What ``SharedPOD`` and ``SharedTracker`` add to their face: a server."""

    _kind = "pod"
    _link: Any
    _server: Server | None = None

    def _create(self, path: Any, options: dict[str, Any], address: Any, authkey: bytes | None) -> None:
        path = folder_path(path)
        authkey = os.urandom(32) if authkey is None else bytes(authkey)
        server = Server(self._kind, path, options, address, authkey)
        self._link = Link(server.address, authkey, path, type(self).__name__)
        _started[id(server)] = (server, server.address, authkey)
        exits.on_exit(_sync_started)
        self._server = server

    @property
    def path(self) -> pathlib.Path:
        """The folder."""
        path: pathlib.Path = self._link.path
        return path

    @property
    def _address(self) -> Any:
        return self._link.address

    def close(self) -> None:
        """Make the server sync and stop (for every process using it)."""
        super().close()  # type: ignore[misc]
        server = self._server
        if server is not None:
            _started.pop(id(server), None)
            server.stop()


class SharedPersistentOrderedDict(Creator, ClientPOD[K, V]):
    """A POD held by a server process and shared by any number of processes.

    Creating it starts the server process, which opens the folder as a
    ``POD``. The object pickles: pass it to ``Process`` arguments, a
    ``Pool``, a ``Queue``, under every start method. Every method is one
    atomic call to the server. ``shared.set[...]`` records a mutation that
    the server applies atomically; ``lock()`` / ``locked()`` give exclusive
    access. ``close()`` (or the exit of the creating process) makes the
    server sync and stop.

    :param path: the folder, as for ``POD``.
    :param init: a mapping or an iterable of ``(key, value)`` pairs, added
        as by ``update()``.
    :param gzipped: as for ``POD``: gzipped shard files.
    :param file_size: as for ``POD``: about how many entries a shard file.
    :param sync_at: as for ``POD``: the server writes once this many keys
        are dirty.
    :param address: where the server listens, as
        ``multiprocessing.connection.Listener`` takes it; ``None`` (the
        default) picks a private local socket.
    :param authkey: the key a process must know to connect (bytes); ``None``
        (the default) makes a random one. It travels inside the pickled
        object: share it only with processes you trust.
    :raises LockedError: another process writes the folder.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        init: Mapping[K, V] | Iterable[tuple[K, V]] | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        address: Any = None,
        authkey: bytes | None = None,
    ) -> None:
        options = {"init": init, "gzipped": gzipped, "file_size": file_size, "sync_at": sync_at}
        self._create(path, options, address, authkey)


# -- the servers this process started -------------------------------------------

_started: dict[int, tuple[Server, Any, bytes]] = {}


def _sync_started() -> None:
    # On SIGTERM / SIGINT too: a sync only (the program may go on after a
    # caught KeyboardInterrupt); a server whose creator died stops by itself.
    # Neither this nor close waits for a user lock held by another process.
    for server, address, authkey in list(_started.values()):
        if server.creator == os.getpid() and server.process.is_alive():
            call_once(address, authkey, "exit_sync")


def _stop_started() -> None:
    for key, (server, address, authkey) in list(_started.items()):
        if server.creator != os.getpid():
            continue  # a forked child: the server is its parent's
        if server.process.is_alive():
            call_once(address, authkey, "close")
        server.stop()
        _started.pop(key, None)


atexit.register(_stop_started)

SharedPOD = SharedPersistentOrderedDict
