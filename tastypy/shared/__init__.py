"""``SharedPOD`` and ``SharedTracker``: one server process, many client processes.

The server (``server.py``) is a process that owns the POD or Tracker and
applies the ``Op`` records of ``tastypy.observe``; ``work.py`` shares the
keys of ``try_keys()`` loops out. The client face (``face.py``), written once
for every host, reaches it through a picklable link (``link.py``);
``client.py`` and ``tracker.py`` start the server and hold the link.
"""

from tastypy.shared.client import SharedPersistentOrderedDict, SharedPOD
from tastypy.shared.tracker import SharedProgressTracker, SharedTracker

__all__ = [
    "SharedPOD",
    "SharedPersistentOrderedDict",
    "SharedProgressTracker",
    "SharedTracker",
]
