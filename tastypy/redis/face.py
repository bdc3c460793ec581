"""``RedisPOD`` and ``RedisTracker``: the client face over a Redis server.

Generic like the other faces: ``RedisPOD[K, V]`` over its key and value
types, ``RedisTracker[K, R]`` over its key and record types (``R`` a
``TypedDict`` extending ``tastypy.TaskRecord``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tastypy.counts import R
from tastypy.failures import check_backoff
from tastypy.keys import K, V
from tastypy.redis.link import RedisLink
from tastypy.shared.face import ClientPOD, ClientTracker


class RedisPersistentOrderedDict(ClientPOD[K, V]):
    """A POD held by a Redis server under ``name``, used from any number of machines.

    Each call is atomic on the server; values are kept as their JSON text,
    byte for byte a POD's. Picklable as its URL, name and options: each
    process opens its own connections. ``close()`` closes this client's
    connections and leaves the data in Redis; ``drop()`` deletes it.

    :param url: a Redis URL as :meth:`redis.Redis.from_url` takes it
        (``redis://:password@host:6379/0``, ``rediss://`` for TLS,
        ``unix:///run/redis.sock?db=0``). A Redis Cluster is found by
        itself, or named: ``?cluster=true``.
    :param name: names this POD in that database: a non-empty string
        without ``{`` or ``}``.
    :param init: a mapping or an iterable of ``(key, value)`` pairs, added
        as by ``update()``.
    :param lease: seconds that the lock (and a tracker's claim on a key)
        lasts past its holder's death or loss of the network; renewed while
        the holder's process lives.
    :param allow_eviction: open the name even on a server whose
        ``maxmemory-policy`` may evict keys (the risk: "Deploying Redis");
        by default that is refused.
    :raises EvictionError: the server's ``maxmemory-policy`` may evict keys.
    :raises IntegrityError: another client wrote into the name's keys
        (the message names ``URL#NAME`` and the key).
    :raises ConnectionError: the server cannot be used (the message names
        the URL, its password masked).
    :raises ValueError: a bad name, or the name holds a tracker.
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

    :param url: a Redis URL as :meth:`redis.Redis.from_url` takes it.
    :param name: names this tracker in that database: a non-empty string
        without ``{`` or ``}``.
    :param max_tries: the most tries of a task; 0 for no limit.
    :param init: a mapping or an iterable of ``(key, record)`` pairs, merged
        as by ``update()``.
    :param lease: seconds that a loop's claim on a key (and the lock) lasts
        past its holder's death or loss of the network; renewed while the
        holder's process lives.
    :param backoff: how long a failed try (``attempt()``, ``mark_failed()``)
        waits before ``try_keys()`` hands its key out again: seconds, a list
        of seconds by try number (the last repeats),
        ``tastypy.exponential(first, cap)``, or ``f(tries, error)``
        returning seconds; ``None`` (the default): no wait.
    :param allow_eviction: as for ``RedisPOD``.
    :param prefetch: keys a ``try_keys()`` loop claims per round trip, each
        with its own lease (fewer round trips for short tasks). A loop that
        ends gives back the keys it never started, their tries taken back;
        a process that dies holding some leaves them counted as tried
        (never over ``max_tries``).
    :raises ConnectionError: the server cannot be used (the message names
        the URL, its password masked).
    :raises ValueError: a bad name or option, or the name holds a POD.
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
        self.backoff = check_backoff(backoff)
        self._link = RedisLink(url, name, self._kind, max_tries, lease, allow_eviction, prefetch)
        self._link.open()
        if init is not None:
            self.update(init)


RedisPOD = RedisPersistentOrderedDict
RedisTracker = RedisProgressTracker
