"""The async faces users make: on a folder (``AsyncPOD``, ``AsyncTracker``) and on a shared server.

Each is the face of ``face.py`` over a link of ``links.py``: made with the
same arguments as its sync twin, opened by ``async with`` (or ``await
obj.open()``), closed by ``aclose()``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tastypy.aio.face import AsyncClientPOD, AsyncClientTracker
from tastypy.aio.links import FolderLink, ThreadLink
from tastypy.counts import R
from tastypy.failures import check_backoff
from tastypy.keys import K, V
from tastypy.pod import folder_path

if TYPE_CHECKING:
    from typing_extensions import Self

#: Threads of a shared face's link: calls in flight at once (the server runs one at a time).
THREADS = 4


class _Opens:
    """``async with`` opens (once) and closes; a call before opening says what to do."""

    _opened = False
    _path: pathlib.Path

    @property
    def path(self) -> pathlib.Path:
        """The folder."""
        return self._path

    async def open(self) -> Self:
        """Open (read the folder, or start the server) off the event loop's thread; returns self."""
        if not self._opened:
            await self._open()
            self._opened = True
        return self

    async def _open(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.open()


class _NotOpen:
    where = "(not opened)"
    closed = False

    def __init__(self, what: str) -> None:
        self.what = what

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"{self.what} is not open: use 'async with {self.what}(...) as t:' or 'await t.open()'")

    async def aclose(self) -> None:
        pass


def _folder_link(face: Any, kind: str, path: Any, options: dict[str, Any]) -> FolderLink:
    from tastypy.shared.host import Host

    path = folder_path(path)

    def opener() -> Any:
        if kind == "tracker":
            from tastypy.tracker import ProgressTracker

            pod: Any = ProgressTracker(path, **options)
        else:
            from tastypy.pod import PersistentOrderedDict

            pod = PersistentOrderedDict(path, **options)
        return Host(pod, kind)

    return FolderLink(opener, type(face).__name__, str(path))


class AsyncPersistentOrderedDict(_Opens, AsyncClientPOD[K, V]):
    """A POD on a folder for asyncio: ``async with tastypy.AsyncPOD(path) as pod:``.

    A ``POD`` runs on one writer thread of its own; every call is a
    coroutine that waits for it there, so the event loop's thread never
    waits on a disk sync or on the POD's lock. Calls queued meanwhile run
    as one batch with one sync at most (group commit). Values read are
    plain copies; writes are awaited calls.

    :param path: the folder, as for ``POD``.
    :param init: a mapping or an iterable of ``(key, value)`` pairs, added
        as by ``update()``.
    :param gzipped: as for ``POD``: gzipped shard files.
    :param file_size: as for ``POD``: about how many entries a shard file.
    :param sync_at: as for ``POD``: write once this many keys are dirty
        (checked after each batch).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        init: Mapping[K, V] | Iterable[tuple[K, V]] | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
    ) -> None:
        options = {"init": init, "gzipped": gzipped, "file_size": file_size, "sync_at": sync_at}
        self._init_face(_NotOpen(type(self).__name__))
        self._path = folder_path(path)
        self._folder = _folder_link(self, "pod", self._path, options)

    async def _open(self) -> None:
        await self._folder.open()
        self._link = self._folder


class AsyncProgressTracker(_Opens, AsyncClientTracker[K, R]):
    """A ProgressTracker on a folder for asyncio: ``async with tastypy.AsyncTracker(path) as t:``.

    A ``Tracker`` runs on one writer thread of its own (see ``AsyncPOD``);
    its records, counters, ``max_tries``, failures and claims are the sync
    tracker's. Many tasks each in their own ``async for key in
    t.try_keys():`` hold different keys; a loop that ends, raises or is
    cancelled gives its key back.

    :param path: the folder, as for ``ProgressTracker``.
    :param max_tries: the most tries of a task; 0 for no limit.
    :param init: a mapping or an iterable of ``(key, record)`` pairs, merged
        as by ``update()``.
    :param gzipped: as for ``POD``: gzipped shard files.
    :param file_size: as for ``POD``: about how many entries a shard file.
    :param sync_at: as for ``POD``: write once this many keys are dirty
        (checked after each batch).
    :param backoff: how long a failed try waits before ``try_keys()`` hands
        its key out again, as for ``ProgressTracker``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_tries: int = 0,
        init: Mapping[K, Mapping[str, Any]] | Iterable[tuple[K, Mapping[str, Any]]] | None = None,
        gzipped: bool = False,
        file_size: int = 1000,
        sync_at: int = 1000,
        *,
        backoff: Any = None,
    ) -> None:
        #: How long a failed try waits before it is handed out again.
        self.backoff = check_backoff(backoff)
        options = {
            "max_tries": max_tries,
            "init": init,
            "gzipped": gzipped,
            "file_size": file_size,
            "sync_at": sync_at,
        }
        self._init_face(_NotOpen(type(self).__name__))
        self._path = folder_path(path)
        self._folder = _folder_link(self, "tracker", self._path, options)

    async def _open(self) -> None:
        await self._folder.open()
        self._link = self._folder
        self._max_tries = await self._call("attr", "max_tries")


class _SharedOpens(_Opens):
    """A shared face: a sync one made on a worker thread (starting its server), or adopted."""

    _link: Any
    _make: Any
    _owns = True  # it started the server: closing stops it
    _max_tries: int

    async def _open(self) -> None:
        link = ThreadLink(self._make, type(self).__name__, THREADS)
        await link.open(owner=self._owns)
        self._link = link
        if isinstance(self, AsyncClientTracker):
            self._max_tries = await self._call("attr", "max_tries")

    @classmethod
    def over(cls, shared: Any) -> Self:
        """An async object over ``shared``, a ``SharedPOD``/``SharedTracker`` made elsewhere.

        E.g. one passed to this process. Its ``aclose()`` closes this
        object's connections only; the server stays for the others.
        """
        face = cls.__new__(cls)
        face._init_face(_NotOpen(cls.__name__))  # type: ignore[attr-defined]
        face._make = lambda: shared
        face._owns = False
        face._path = shared.path
        face.backoff = getattr(shared, "backoff", None)  # type: ignore[attr-defined]
        return face


class AsyncSharedPersistentOrderedDict(_SharedOpens, AsyncClientPOD[K, V]):
    """A ``SharedPOD`` for asyncio: its server process, reached without blocking the loop.

    Opening starts the server (as ``SharedPOD`` does) on a worker thread;
    calls run on a few threads of this object's, each with its own
    connection. ``AsyncSharedPOD.over(shared)`` makes the async object of
    a ``SharedPOD`` made elsewhere. Values read are plain copies; ``async
    with pod.changes()`` is the atomic form of ``shared.set``.

    :param path: the folder, as for ``SharedPOD``.
    :param init: as for ``SharedPOD``.
    :param gzipped: as for ``SharedPOD``.
    :param file_size: as for ``SharedPOD``.
    :param sync_at: as for ``SharedPOD``.
    :param address: as for ``SharedPOD``.
    :param authkey: as for ``SharedPOD``.
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
        from tastypy.shared import SharedPOD

        def make() -> Any:
            return SharedPOD(path, init, gzipped, file_size, sync_at, address=address, authkey=authkey)

        self._init_face(_NotOpen(type(self).__name__))
        self._path = folder_path(path)
        self._make = make


class AsyncSharedProgressTracker(_SharedOpens, AsyncClientTracker[K, R]):
    """A ``SharedTracker`` for asyncio: its server process, reached without blocking the loop.

    As ``AsyncSharedPOD``; the claims of its ``try_keys()`` loops are this
    process's, shared out with every other process's loops by the server.

    :param path: the folder, as for ``SharedTracker``.
    :param max_tries: as for ``SharedTracker``.
    :param init: as for ``SharedTracker``.
    :param gzipped: as for ``SharedTracker``.
    :param file_size: as for ``SharedTracker``.
    :param sync_at: as for ``SharedTracker``.
    :param address: as for ``SharedTracker``.
    :param authkey: as for ``SharedTracker``.
    :param backoff: as for ``SharedTracker``.
    """

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
        from tastypy.shared import SharedTracker

        #: How long a failed try waits before it is handed out again.
        self.backoff = check_backoff(backoff)

        def make() -> Any:
            return SharedTracker(
                path, max_tries, init, gzipped, file_size, sync_at,
                address=address, authkey=authkey, backoff=backoff,
            )  # fmt: skip

        self._init_face(_NotOpen(type(self).__name__))
        self._path = folder_path(path)
        self._make = make


AsyncPOD = AsyncPersistentOrderedDict
AsyncTracker = AsyncProgressTracker
AsyncSharedPOD = AsyncSharedPersistentOrderedDict
AsyncSharedTracker = AsyncSharedProgressTracker
