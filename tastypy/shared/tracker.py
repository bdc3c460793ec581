"""``SharedTracker``: the tracker face over a server process this process starts."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from tastypy.counts import R
from tastypy.failures import check_backoff
from tastypy.keys import K
from tastypy.shared.client import Creator
from tastypy.shared.face import ClientTracker


class SharedProgressTracker(Creator, ClientTracker[K, R]):
    """A ProgressTracker held by a server process, shared by many processes.

    Its methods are those of ``ProgressTracker``, each one atomic call.
    Several processes looping over ``try_keys()`` at once share the work like
    workers on a queue: a key handed to one loop is handed to no other while
    that loop is on it (until it asks for its next key, the key is marked
    done or aborted, or its process dies).

    :param path: the folder, as for ``ProgressTracker``.
    :param max_tries: the most tries of a task; 0 for no limit.
    :param init: a mapping or an iterable of ``(key, record)`` pairs, merged
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
    :param backoff: (kept by each process's object, and pickled with it)
        how long a failed try (``attempt()``, ``mark_failed()``)
        waits before ``try_keys()`` hands its key out again: seconds, a list
        of seconds by try number (the last repeats),
        ``tastypy.exponential(first, cap)``, or ``f(tries, error)``
        returning seconds; ``None`` (the default): no wait.
    :raises LockedError: another process writes the folder.
    """

    _kind = "tracker"

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_tries: int = 0,
        init: Mapping[K, Mapping[str, Any]] | Iterable[tuple[K, Mapping[str, Any]]] | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        address: Any = None,
        authkey: bytes | None = None,
        backoff: Any = None,
    ) -> None:
        #: How long a failed try waits before it is handed out again (see
        #: ``tastypy.failures.check_backoff``); kept here, in each client.
        self.backoff = check_backoff(backoff)
        options = {
            "max_tries": max_tries,
            "init": init,
            "gzipped": gzipped,
            "file_size": file_size,
            "sync_at": sync_at,
        }
        self._create(path, options, address, authkey)


SharedTracker = SharedProgressTracker
