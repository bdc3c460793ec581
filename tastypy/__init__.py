"""tastypy: dict-like data structures that persist themselves to disk.

``POD`` is a dict kept as human-readable JSON shard files; ``ProgressTracker``
a POD of task records for jobs that must resume after a crash; ``SharedPOD``
and ``SharedTracker`` share them between processes through one server;
``RedisPOD`` and ``RedisTracker`` between machines, through a Redis server;
``AsyncPOD``, ``AsyncTracker``, ``AsyncSharedPOD``, ``AsyncSharedTracker``,
``AsyncRedisPOD`` and ``AsyncRedisTracker`` are their faces for asyncio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tastypy.counts import TaskRecord
from tastypy.errors import (
    DuplicateKeyError,
    IntegrityError,
    LockedError,
    PersistentOrderedDictIntegrityError,
    ReadOnlyError,
    TastypyError,
)
from tastypy.failures import exponential
from tastypy.observe import unwrap
from tastypy.pod import POD, PersistentOrderedDict

if TYPE_CHECKING:  # what __getattr__ below hands out, for type checkers
    from tastypy.aio import (
        AsyncPersistentOrderedDict,
        AsyncPOD,
        AsyncProgressTracker,
        AsyncRedisPersistentOrderedDict,
        AsyncRedisPOD,
        AsyncRedisProgressTracker,
        AsyncRedisTracker,
        AsyncSharedPersistentOrderedDict,
        AsyncSharedPOD,
        AsyncSharedProgressTracker,
        AsyncSharedTracker,
        AsyncTracker,
    )
    from tastypy.redis import RedisPersistentOrderedDict, RedisPOD, RedisProgressTracker, RedisTracker
    from tastypy.shared import SharedPersistentOrderedDict, SharedPOD, SharedProgressTracker, SharedTracker
    from tastypy.tracker import ProgressTracker, Tracker

#: This package's version (pyproject.toml reads it from here).
__version__ = "1.0.0.dev0"

# Imported on first use: the tracker, and above all the multiprocessing
# machinery of the shared faces, are not needed by every program.
_LAZY = {
    "ProgressTracker": "tastypy.tracker",
    "Tracker": "tastypy.tracker",
    "SharedPOD": "tastypy.shared",
    "SharedPersistentOrderedDict": "tastypy.shared",
    "SharedTracker": "tastypy.shared",
    "SharedProgressTracker": "tastypy.shared",
    "RedisPOD": "tastypy.redis",
    "RedisPersistentOrderedDict": "tastypy.redis",
    "RedisTracker": "tastypy.redis",
    "RedisProgressTracker": "tastypy.redis",
    "AsyncPOD": "tastypy.aio",
    "AsyncPersistentOrderedDict": "tastypy.aio",
    "AsyncTracker": "tastypy.aio",
    "AsyncProgressTracker": "tastypy.aio",
    "AsyncSharedPOD": "tastypy.aio",
    "AsyncSharedPersistentOrderedDict": "tastypy.aio",
    "AsyncSharedTracker": "tastypy.aio",
    "AsyncSharedProgressTracker": "tastypy.aio",
    "AsyncRedisPOD": "tastypy.aio",
    "AsyncRedisPersistentOrderedDict": "tastypy.aio",
    "AsyncRedisTracker": "tastypy.aio",
    "AsyncRedisProgressTracker": "tastypy.aio",
}

__all__ = [
    "POD",
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
    "DuplicateKeyError",
    "IntegrityError",
    "LockedError",
    "PersistentOrderedDict",
    "PersistentOrderedDictIntegrityError",
    "ProgressTracker",
    "ReadOnlyError",
    "RedisPOD",
    "RedisPersistentOrderedDict",
    "RedisProgressTracker",
    "RedisTracker",
    "SharedPOD",
    "SharedPersistentOrderedDict",
    "SharedProgressTracker",
    "SharedTracker",
    "TaskRecord",
    "TastypyError",
    "Tracker",
    "exponential",
    "unwrap",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tastypy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
