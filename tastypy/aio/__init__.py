"""asyncio faces: ``AsyncPOD``/``AsyncTracker`` on a folder, ``AsyncSharedPOD``/``AsyncSharedTracker`` on a server.

The face (``face.py``) is written once over an async link (``links.py``);
the faces users make are in ``hosts.py``.
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

__all__ = [
    "AsyncAttempt",
    "AsyncClientPOD",
    "AsyncClientTracker",
    "AsyncPOD",
    "AsyncPersistentOrderedDict",
    "AsyncProgressTracker",
    "AsyncSharedPOD",
    "AsyncSharedPersistentOrderedDict",
    "AsyncSharedProgressTracker",
    "AsyncSharedTracker",
    "AsyncTracker",
]
