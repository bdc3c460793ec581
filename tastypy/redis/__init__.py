"""Many machines: a POD or Tracker held by a Redis server.

``link.py`` runs each operation of the client face as one Lua script
(``scripts.py``) on the data layout of ``connect.py``; ``renew.py`` keeps
this process's work claims and locks alive; ``face.py`` is what users hold;
``target.py`` reads the command line's ``URL#NAME``.
"""

from tastypy.redis.face import (
    RedisPersistentOrderedDict,
    RedisPOD,
    RedisProgressTracker,
    RedisTracker,
)
from tastypy.redis.target import is_target, open_target

__all__ = [
    "RedisPOD",
    "RedisPersistentOrderedDict",
    "RedisProgressTracker",
    "RedisTracker",
    "is_target",
    "open_target",
]
