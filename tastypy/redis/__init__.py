"""Many machines: a POD or Tracker held by a Redis server.

Each operation of the client face is one Lua script (``scripts.py``; the
Op engine in ``lua/``, fed by ``ops.py``) on the data layout of
``connect.py``, written once as a plan (``plan.py``: the Redis calls it
needs) that ``link.RedisLink`` runs on redis-py's blocking client and
``tastypy.aio.redis_link.AsyncRedisLink`` on ``redis.asyncio``. The plans
are built by concern: ``connection.py`` (the name, errors), ``calls.py``
(FCALL, else EVALSHA), ``mapping.py``, ``tracking.py`` (tracker methods,
``try_keys()`` claims), ``lease.py`` (the lock, and the thread that renews
the blocking links' claims and locks).
``face.py`` is what users hold; ``target.py`` reads the command line's
``URL#NAME``.

The faces need redis-py (``pip install redis hiredis``: tastypy's ``[redis]``
extra); they are imported on first use, so the rest of tastypy (the command
line too) works without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tastypy.redis.target import is_target, open_target

if TYPE_CHECKING:
    from tastypy.redis.face import (
        RedisPersistentOrderedDict,
        RedisPOD,
        RedisProgressTracker,
        RedisTracker,
    )

_FACES = ("RedisPOD", "RedisPersistentOrderedDict", "RedisProgressTracker", "RedisTracker")

__all__ = [
    "RedisPOD",
    "RedisPersistentOrderedDict",
    "RedisProgressTracker",
    "RedisTracker",
    "is_target",
    "open_target",
]


def __getattr__(name: str) -> Any:
    if name not in _FACES:
        raise AttributeError(f"module 'tastypy.redis' has no attribute {name!r}")
    try:
        face = importlib.import_module("tastypy.redis.face")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != "redis":
            raise
        raise ImportError(
            f"tastypy.{name} needs redis-py, which is not installed:"
            " pip install redis hiredis (tastypy's [redis] extra)"
        ) from exc
    value = getattr(face, name)
    globals()[name] = value
    return value
