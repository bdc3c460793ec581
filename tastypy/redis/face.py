"""``RedisPOD`` and ``RedisTracker``: the client face over a Redis server.

Generic like the other faces: ``RedisPOD[K, V]`` over its key and value
types, ``RedisTracker[K, R]`` over its key and record types (``R`` a
``TypedDict`` extending ``tastypy.TaskRecord``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tastypy.counts import R
from tastypy.keys import K, V
from tastypy.redis.link import RedisLink
from tastypy.shared.face import ClientPOD, ClientTracker


class RedisPersistentOrderedDict(ClientPOD[K, V]):
    """A POD held by a Redis server under ``name``, used from any number of machines.

    ``url`` is a Redis URL as ``redis.Redis.from_url`` takes it. Each call is
    atomic on the server; values are kept as their JSON text, byte for byte
    a POD's. Picklable as its URL, name and options: each process opens its
    own connections. ``close()`` closes this client's connections and
    leaves the data in Redis; ``drop()`` deletes it. The lock lasts
    ``lease`` seconds past its holder's death.

    A Redis Cluster is found by itself (or named: ``?cluster=true``). A
    server whose ``maxmemory-policy`` may evict keys is refused
    (``EvictionError``) unless ``allow_eviction=True`` (see "Deploying
    Redis" for the risk).
    """

    _kind = "pod"
    _link: RedisLink

    def __init__(
        self,
        url: str,
        name: str,
        init: Mapping[K, V] | Iterable[tuple[K, V]] | None = None,
        *,
        lease: float = 30.0,
        allow_eviction: bool = False,
    ) -> None:
        self._link = RedisLink(url, name, self._kind, lease=lease, allow_eviction=allow_eviction)
        self._link.open()
        if init is not None:
            self.update(init)

    @property
    def url(self) -> str:
        """The Redis URL (as given: it may hold a password)."""
        return self._link.url

    @property
    def name(self) -> str:
        """The name of this POD in its Redis database."""
        return self._link.name

    def drop(self) -> None:
        """Delete every Redis key of this name (no other name's); the object stays usable."""
        self._link.destroy()


class RedisProgressTracker(ClientTracker[K, R], RedisPersistentOrderedDict[K, R]):
    """A ProgressTracker held by a Redis server, its work shared between machines.

    A ``try_keys()`` loop's key is claimed for ``lease`` seconds of the
    server's clock, renewed in the background while its process lives: a
    process that dies or is cut off loses it after at most ``lease`` seconds
    and the key goes to the next loop that asks. The try is counted in the
    same step as the hand-out, so no key is tried more than ``max_tries``
    times.

    ``prefetch=N`` claims up to N keys per round trip, each with its own
    lease: fewer round trips for short tasks. A loop that ends gives back
    the keys it never started, their tries taken back; a process that dies
    holding some leaves them counted as tried (never over ``max_tries``).
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
        allow_eviction: bool = False,
        prefetch: int = 1,
    ) -> None:
        self._link = RedisLink(url, name, self._kind, max_tries, lease, allow_eviction, prefetch)
        self._link.open()
        if init is not None:
            self.update(init)


RedisPOD = RedisPersistentOrderedDict
RedisTracker = RedisProgressTracker
