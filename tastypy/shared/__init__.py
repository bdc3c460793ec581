"""``SharedPOD`` and ``SharedTracker``: one server process, many client processes.

The server (``server.py``) is a ``multiprocessing.managers`` server that owns
the POD or Tracker and applies the ``Op`` records of ``tastypy.observe``; the
client (``client.py``, ``tracker.py``) is the light, picklable object users
pass around; ``work.py`` shares the keys of ``try_keys()`` loops out.
"""

from tastypy.shared.client import SharedPersistentOrderedDict, SharedPOD
from tastypy.shared.tracker import SharedProgressTracker, SharedTracker

__all__ = [
    "SharedPOD",
    "SharedPersistentOrderedDict",
    "SharedProgressTracker",
    "SharedTracker",
]
