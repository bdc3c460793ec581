"""asyncio faces: ``AsyncPOD``/``AsyncTracker`` on a folder, ``AsyncSharedPOD``/``AsyncSharedTracker`` on a server,
``AsyncRedisPOD``/``AsyncRedisTracker`` on Redis.

The face (``face.py``) is written once over an async link (``links.py``, ``redis_link.py``);
the faces users make are in ``hosts.py`` and ``redis_hosts.py``.
"""

from tastypy.aio.face import AsyncAttempt, AsyncClientPOD, AsyncClientTracker
from tastypy.aio.hosts import (
    AsyncPersistentOrderedDict,
    AsyncPOD,
    AsyncProgressTracker,
    AsyncSharedPersistentOrderedDict,
    AsyncSharedPOD,
    AsyncSharedProgressTracker,
    AsyncSharedTracker,
    AsyncTracker,
)
from tastypy.aio.redis_hosts import (
    AsyncRedisPersistentOrderedDict,
    AsyncRedisPOD,
    AsyncRedisProgressTracker,
    AsyncRedisTracker,
)

__all__ = [
    "AsyncAttempt",
    "AsyncClientPOD",
    "AsyncClientTracker",
    "AsyncPOD",
    "AsyncPersistentOrderedDict",
    "AsyncProgressTracker",
    "AsyncRedisPOD",
    "AsyncRedisPersistentOrderedDict",
    "AsyncRedisProgressTracker",
    "AsyncRedisTracker",
    "AsyncSharedPOD",
    "AsyncSharedPersistentOrderedDict",
    "AsyncSharedProgressTracker",
    "AsyncSharedTracker",
    "AsyncTracker",
]
