"""The async faces on a Redis server: ``AsyncRedisPOD`` and ``AsyncRedisTracker``.

Each is the face of ``face.py`` over an ``AsyncRedisLink``
(``redis_link.py``): the plans of the sync faces' ``RedisLink`` (the same
scripts, so the same records, counters and claims) run on ``redis.asyncio``,
with no thread. redis-py is imported when one is made, not when
``tastypy.aio`` is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tastypy.aio.face import AsyncClientPOD, AsyncClientTracker
from tastypy.aio.hosts import _NotOpen
from tastypy.counts import R
from tastypy.failures import check_backoff
from tastypy.keys import K, V

if TYPE_CHECKING:
    from typing_extensions import Self


def _redis_link(*args: Any) -> Any:
    try:
        from tastypy.aio.redis_link import AsyncRedisLink
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != "redis":
            raise
        raise ImportError(
            "the async Redis classes need redis-py, which is not installed:"
            " pip install redis hiredis (tastypy's [redis] extra)"
        ) from exc
    return AsyncRedisLink(*args)


class AsyncRedisPersistentOrderedDict(AsyncClientPOD[K, V]):
    """A ``RedisPOD`` for asyncio: ``async with tastypy.AsyncRedisPOD(url, name) as pod:``.

    Each call is one atomic script or command on the server, as for
    ``RedisPOD``, sent by ``redis.asyncio``: the event loop's thread never
    waits on the network, and no thread is made.
    Values read are plain copies; ``async with pod.changes()`` applies its
    changes in order in one step (one compare-and-set of the keys it touches).
    ``aclose()`` closes this object's connections and leaves the data in
    Redis.

    :param url: a Redis URL, as for ``RedisPOD``.
    :param name: names this POD in that database, as for ``RedisPOD``.
    :param init: a mapping or an iterable of ``(key, value)`` pairs, added
        as by ``update()`` when it opens.
    :param lease: as for ``RedisPOD``: seconds the lock lasts past this
        process's death, renewed while it lives.
    :param allow_eviction: as for ``RedisPOD``.
    """

    _kind = "pod"
    _opened = False
    _init: Any = None

    def __init__(
        self,
        url: str,
        name: str,
        init: Mapping[K, V] | Iterable[tuple[K, V]] | None = None,
        *,
        lease: float = 30.0,
        allow_eviction: bool = False,
    ) -> None:
        self._setup(_redis_link(url, name, self._kind, 0, lease, allow_eviction), init)

    def _setup(self, link: Any, init: Any) -> None:
        self._init_face(_NotOpen(type(self).__name__))
        self._redis = link
        self._init = init

    @property
    def url(self) -> str:
        """The Redis URL (as given: it may hold a password)."""
        return self._redis.url  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        """The name of this POD in its Redis database."""
        return self._redis.name  # type: ignore[no-any-return]

    async def open(self) -> Self:
        """Reach the server and add ``init``; returns self."""
        if not self._opened:
            await self._redis.open()
            self._link = self._redis
            self._opened = True
            if self._init is not None:
                init, self._init = self._init, None
                try:
                    await self.update(init)
                except BaseException:
                    await self.aclose()  # no task or connection outlives a failed open
                    raise
        return self

    async def __aenter__(self) -> Self:
        return await self.open()

    async def drop(self) -> None:
        """Delete every Redis key of this name (no other name's); the object stays usable."""
        await self._call("_destroy")


class AsyncRedisProgressTracker(AsyncClientTracker[K, R], AsyncRedisPersistentOrderedDict[K, R]):
    """A ``RedisTracker`` for asyncio: ``async with tastypy.AsyncRedisTracker(url, name) as t:``.

    As ``AsyncRedisPOD``; its records, counters, ``max_tries``, failures
    and claims are ``RedisTracker``'s. Many tasks each in their own ``async
    for key in t.try_keys():`` hold different keys, each claimed for
    ``lease`` seconds and renewed while this process lives by one task per
    event loop, every quarter of the lease: if the process dies, its keys go
    to the others after the lease. That task runs on the loop, so a loop
    blocked for most of a lease loses its claims (a ``RuntimeWarning`` says
    so): keep blocking calls off the loop, or give a longer ``lease``.

    :param url: a Redis URL, as for ``RedisTracker``.
    :param name: names this tracker in that database, as for ``RedisTracker``.
    :param max_tries: the most tries of a task; 0 for no limit.
    :param init: a mapping or an iterable of ``(key, record)`` pairs,
        merged as by ``update()`` when it opens.
    :param lease: as for ``RedisTracker``.
    :param backoff: as for ``RedisTracker``.
    :param allow_eviction: as for ``RedisTracker``.
    :param prefetch: as for ``RedisTracker``: keys a ``try_keys()`` loop
        claims per round trip.
    """

    _kind = "tracker"

    def __init__(
        self,
        url: str,
        name: str,
        max_tries: int = 0,
        init: Mapping[K, Mapping[str, Any]] | Iterable[tuple[K, Mapping[str, Any]]] | None = None,
        *,
        lease: float = 30.0,
        backoff: Any = None,
        allow_eviction: bool = False,
        prefetch: int = 1,
    ) -> None:
        #: How long a failed try waits before it is handed out again.
        self.backoff = check_backoff(backoff)
        self._setup(_redis_link(url, name, self._kind, max_tries, lease, allow_eviction, prefetch), init)
        self._max_tries = max_tries


AsyncRedisPOD = AsyncRedisPersistentOrderedDict
AsyncRedisTracker = AsyncRedisProgressTracker
